"""Numbers that differ from machine to machine, stated honestly.

Seeding makes a run repeatable on one machine, not across machines: PyTorch and MKL pick
their CPU kernels by instruction set (AVX-512, AVX2, none) and thread count, and a training
run turns a difference in the last bit into visible digits. So the book follows one rule:

* outputs that are exact anywhere (shapes, counts, texts, pass/fail) are compared strictly
  by nbval;
* results of float accumulation (losses, accuracies, perplexities, samples of a trained
  model, timings) are shown in cells tagged ``nbval-ignore-output``, and every number the
  prose states about them goes through :func:`claim`, which asserts that the value lies in
  a band chosen from the spread measured across seeds and CPU settings
  (``scripts/measure_spread.py``), and hands it to the prose with myst-nb's ``glue``.

``claim`` prints nothing: what the reader sees of the number is the cell's own output and
the glued value in the text, ``{glue:text}`name```.
"""

from __future__ import annotations

import json
import math
import numbers
import os

__all__ = ["claim", "glue", "BandError", "CLAIMS_LOG_ENV", "MEASURE_ENV"]

#: When this environment variable names a file, every :func:`claim` appends a JSON line
#: (name, value, band, notebook, CPU settings) to it — how the bands were measured.
CLAIMS_LOG_ENV = "LLMBOOK_CLAIMS_LOG"
#: Set to ``1`` (with :data:`CLAIMS_LOG_ENV`) to log values without enforcing the bands:
#: ``scripts/measure_spread.py`` uses it to measure the spread the bands are chosen from.
MEASURE_ENV = "LLMBOOK_MEASURE_SPREAD"


class BandError(AssertionError):
    """A measured number fell outside the band that the book's prose relies on."""


def _check_number(name: str, value: object) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"claim {name!r}: the value must be a real number, got "
                        f"{type(value).__name__}.")
    if not isinstance(value, numbers.Real):
        try:  # a 0-d tensor or numpy scalar
            value = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TypeError(f"claim {name!r}: the value must be a real number, got "
                            f"{type(value).__name__}.") from None
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"claim {name!r}: the value is NaN (did the run diverge?).")
    return value


def _settings() -> dict[str, str | int | None]:
    try:
        import torch
        capability = torch.backends.cpu.get_cpu_capability()
        threads = torch.get_num_threads()
    except Exception:  # pragma: no cover - torch is always there in the book
        capability, threads = None, None
    return {"setting": os.environ.get("LLMBOOK_SETTING"), "cpu_capability": capability, "threads": threads,
            "mkl": os.environ.get("MKL_ENABLE_INSTRUCTIONS"),
            "seed_shift": os.environ.get("LLMBOOK_SEED_SHIFT")}


def _log(name: str, value: float, low: float, high: float) -> None:
    path = os.environ.get(CLAIMS_LOG_ENV)
    if not path:
        return
    record = {"name": name, "value": value, "low": low, "high": high,
              "notebook": os.environ.get("LLMBOOK_NOTEBOOK"), **_settings()}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def glue(name: str, value: object) -> None:
    """Hand ``value`` to the prose as ``{glue:text}`name``` (myst-nb), showing nothing.

    Without myst-nb (Colab, a plain Jupyter) there is no prose to glue into: it does
    nothing. Use it for values that are the same on every machine (counts, texts, exact
    results) or, inside an ``nbval-ignore-output`` cell, for a description of this
    machine; numbers from training runs go through :func:`claim`, which also checks them.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue name must be an identifier-like string, got {name!r}.")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab or plain Jupyter: nothing to glue into
        return
    myst_glue(name, value, display=False)


def claim(name: str, value: object, *, between: tuple[float, float]) -> None:
    """Assert that ``low <= value <= high`` and glue ``value`` under ``name`` for the prose.

    ``between`` is the band the text may rely on, chosen from measured spread; a value
    outside it raises :class:`BandError` naming the number, the band and what to do.
    Returns nothing, so a claim on a cell's last line adds no output to the page.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"claim name must be an identifier-like string (it becomes a glue "
                         f"key), got {name!r}.")
    if not (isinstance(between, tuple) and len(between) == 2):
        raise TypeError(f"claim {name!r}: between must be a (low, high) tuple, got "
                        f"{between!r}.")
    low, high = (_check_number(name, b) for b in between)
    if not low < high:
        raise ValueError(f"claim {name!r}: the band ({low}, {high}) is empty; low < high.")
    value = _check_number(name, value)
    _log(name, value, low, high)
    if not low <= value <= high and os.environ.get(MEASURE_ENV) != "1":
        raise BandError(
            f"{name} = {value:.6g} is outside the band [{low:.6g}, {high:.6g}] that the text "
            f"relies on. If the code changed, re-measure the spread "
            f"(scripts/measure_spread.py) and update the band and the prose; otherwise this "
            f"machine computes differently from every setting measured so far: please "
            f"report it with the output of llmbook.env.environment_report().")
    glue(name, value)
