"""The environment check of the preface, and seeding.

``environment_report()`` says which versions, which device and which offline
resources this kernel has — the first thing to run when something does not work.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import sys

__all__ = ["seed_everything", "environment_report", "best_device", "quiet_library_logs"]

#: Loggers whose import-time warnings say nothing about the reader's code and carry a time
#: stamp and a process id (so a stored notebook output could never match again): torchao
#: reports the CUDA kernels it cannot load on a CPU machine, and torch's pytree module warns
#: about torchao's enum registrations. transformers imports torchao whenever it is installed.
QUIET_LOGGERS = ("torchao", "torch.utils._pytree")


def quiet_library_logs() -> None:
    """Raise the loggers of :data:`QUIET_LOGGERS` to ERROR (``import llmbook`` does this)."""
    import logging

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)

# The libraries the book relies on, in the order the report lists them.
LIBRARIES = ["torch", "transformers", "tokenizers", "safetensors", "numpy", "plotly",
             "ipywidgets", "bertviz", "tqdm", "llmbook"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, NumPy's and PyTorch's generators so a cell gives the same
    numbers on every run (the book's stored outputs depend on it).

    The environment variable ``LLMBOOK_SEED_SHIFT`` (an int, unset normally) is added to
    every seed: ``scripts/measure_spread.py`` uses it to see how much a result moves with
    the seed, which is how the book chooses the bands its prose relies on.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    shift = os.environ.get("LLMBOOK_SEED_SHIFT", "").strip()
    if shift:
        try:
            seed += int(shift)
        except ValueError:
            raise ValueError(f"LLMBOOK_SEED_SHIFT must be an int, got {shift!r}.") from None
    random.seed(seed)
    try:
        import numpy as np
        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    import torch
    torch.manual_seed(seed)


def best_device() -> str:
    """``"cuda"`` if an NVIDIA GPU is usable, else ``"mps"`` (Apple), else ``"cpu"``."""
    import torch
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment_report(*, show: bool = True) -> dict:
    """Versions, device and offline resources, printed as a short report.

    Returns the same facts as a dict (``libraries``, ``device``, ``resources``).
    """
    from .resources import available_resources

    import torch

    libraries = {name: _version(name) for name in LIBRARIES}
    device = best_device()
    resources = available_resources()
    where = "Google Colab" if "google.colab" in sys.modules else "local"
    report = {"python": platform.python_version(), "where": where, "libraries": libraries,
              "device": device, "threads": torch.get_num_threads(), "resources": resources}
    if show:
        print(f"Python {report['python']} ({where})")
        for name, version in libraries.items():
            print(f"  {name:<14} {version or 'MISSING — pip install -r requirements.txt'}")
        gpu = f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""
        print(f"Device: {device}{gpu}")
        print("Offline resources:")
        for name, info in resources.items():
            state = f"{info['version']}" if info["installed"] else \
                f"MISSING — {info['install']}"
            print(f"  {name:<22} {state}")
    return report
