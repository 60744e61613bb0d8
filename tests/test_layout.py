"""The rules the package's layout keeps, read from the source with ``ast`` (nothing imported).

* The model code imports neither the loaders (``resources``), the plots (``viz``) nor the
  graders (``exercises``): a model can be read, tested and reused on its own.
* No import cycles among llmbook modules (counting imports inside functions too).
* Every module has its test file, named by one rule: ``llmbook/<name>.py`` ->
  ``tests/test_<name>.py``; a subpackage's ``llmbook/<pkg>/__init__.py`` ->
  ``tests/test_<pkg>.py`` and ``llmbook/<pkg>/[_]<name>.py`` -> ``tests/test_<pkg>_<name>.py``
  (a leading underscore dropped). A test file that names no module tests something other
  than a module (the book, the scripts) and then does not import llmbook: so no test is left
  behind for a module that no longer exists.
* No module over 500 lines; no module named ``utils``, ``misc``, ``helpers`` and the like,
  after a chapter (``ch4``, ``intro``, ``4_2``), or with a tacked-on ``x`` (``mathx``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "code" / "llmbook"
TESTS = ROOT / "tests"

#: The modules of models: what a chapter teaches and a reader may reuse.
MODEL_MODULES = ("attention", "positional", "transformer", "gpt", "tiny_lm")
#: What the model code must not depend on.
NOT_FOR_MODELS = ("resources", "viz", "exercises")
MAX_LINES = 500
DENIED_NAMES = {"utils", "util", "misc", "helpers", "helper", "common_utils", "stuff",
                "tools", "extras", "intro", "introduction", "chapter", "appendix"}
#: English words that end in x and are fine module names.
WORDS_ENDING_IN_X = {"softmax", "matrix", "index", "prefix", "suffix", "syntax", "vertex",
                     "complex", "regex", "sparsemax"}
CHAPTER_NAME = re.compile(r"(^|_)(ch|chap|chapter|sec|section|part|intro)?\d|(^|_)intro(_|$)")


def _modules() -> dict[str, Path]:
    """``{'llmbook.attention': path, 'llmbook.resources': .../__init__.py, ...}``."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The llmbook modules that ``name`` imports, anywhere in its source."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets.add(module)
            targets |= {f"{module}.{alias.name}" for alias in node.names}
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _expected_test(name: str) -> str:
    parts = name.split(".")[1:]
    return "test_" + "_".join(part.lstrip("_") for part in parts) + ".py"


def test_the_package_was_found():
    assert {"llmbook.attention", "llmbook.resources", "llmbook.exercises"} <= set(MODULES)
    assert all(f"llmbook.{m}" in MODULES for m in MODEL_MODULES)


@pytest.mark.parametrize("model", MODEL_MODULES)
def test_model_code_does_not_import_loaders_plots_or_graders(model):
    reached, todo = set(), [f"llmbook.{model}"]
    while todo:                      # what the model module imports, directly or not
        for target in GRAPH[todo.pop()]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    bad = sorted(t for t in reached
                 if any(t == f"llmbook.{n}" or t.startswith(f"llmbook.{n}.")
                        for n in NOT_FOR_MODELS))
    assert not bad, f"llmbook.{model} imports {bad}"


def test_no_import_cycles():
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = "open"
        path.append(name)
        for target in sorted(GRAPH[name]):
            if target.startswith(name + "."):
                continue             # a package re-exporting its own modules is no cycle
            if state.get(target) == "open":
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


def test_every_module_has_its_test_file():
    expected = {}
    for name in MODULES:
        if name == "llmbook":
            continue                 # the package root only re-exports seed_everything
        test = _expected_test(name)
        assert test not in expected, f"{name} and {expected[test]} would share {test}"
        expected[test] = name
    missing = sorted(f"{name} -> tests/{test}" for test, name in expected.items()
                     if not (TESTS / test).exists())
    assert not missing, f"modules without their test file: {missing}"


def test_no_test_file_names_a_module_that_is_gone():
    expected = {_expected_test(name) for name in MODULES if name != "llmbook"}
    stray = []
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name in expected or path.name == "test_layout.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_llmbook = any(
            (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "llmbook"
                                               for a in n.names))
            or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "llmbook")
            for n in ast.walk(tree))
        if imports_llmbook:
            stray.append(path.name)
    assert not stray, (f"{stray} import llmbook but name no module of it: rename each after "
                       f"the module it tests (see this file's docstring)")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size_and_name(name):
    path = MODULES[name]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it"
    stem = name.split(".")[-1].lstrip("_")
    assert stem not in DENIED_NAMES, f"{name}: name a module after what is in it"
    assert not CHAPTER_NAME.search(stem), f"{name}: name it after its concept, not a chapter"
    assert not (stem.endswith("x") and stem not in WORDS_ENDING_IN_X), \
        f"{name}: a trailing 'x' says nothing about what is inside"


def test_the_rules_catch_what_they_should():
    assert CHAPTER_NAME.search("exercises_intro".split(".")[-1]) or "intro" in DENIED_NAMES
    for bad in ("ch4_math", "4_2_forward", "intro", "section3", "exercises_intro"):
        assert CHAPTER_NAME.search(bad), bad
    for good in ("smollm2_cache", "gpt", "tiny_lm", "attention_scaling"):
        assert not CHAPTER_NAME.search(good), good
    assert _expected_test("llmbook.resources._common") == "test_resources_common.py"
    assert _expected_test("llmbook.exercises") == "test_exercises.py"
