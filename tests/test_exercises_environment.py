"""llmbook.exercises.environment: the exact-pins grader and its reference."""

from llmbook import exercises as ex
from llmbook.exercises.environment import loose_requirements


def test_loose_requirements():
    assert loose_requirements(["torch==2.13.0", "a>=1", "# x", "", "b==1.0  # y",
                               "numpy==2.*", "c[extra]==1.2"]) == ["a>=1", "numpy==2.*"]


def test_requirements_txt_is_all_exact_pins():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for name in ("requirements.txt", "requirements-offline.txt"):
        lines = (root / name).read_text().splitlines()
        assert loose_requirements(lines) == [], name


def test_grader(capsys):
    assert ex.check_exact_pins(loose_requirements)
    assert not ex.check_exact_pins(lambda lines: [l for l in lines if "==" not in l])
    assert not ex.check_exact_pins(lambda lines: "none")
    assert not ex.check_exact_pins(lambda lines: 1 / 0)
