"""llmbook.exercises, the package: every grader is re-exported, and each never raises."""

import importlib
import inspect
import pkgutil

import pytest

from llmbook import exercises


def _grader_modules():
    return [importlib.import_module(f"llmbook.exercises.{m.name}")
            for m in pkgutil.iter_modules(exercises.__path__) if not m.name.startswith("_")]


def test_every_grader_is_re_exported_once():
    seen = {}
    for module in _grader_modules():
        for name in module.__all__:
            assert name.startswith("check_"), f"{module.__name__}.{name}"
            assert name not in seen, f"{name} in {module.__name__} and {seen[name]}"
            seen[name] = module.__name__
            assert getattr(exercises, name) is getattr(module, name)
    assert set(exercises.__all__) == set(seen) | {"Feedback"}


@pytest.mark.parametrize("name", [n for n in exercises.__all__ if n.startswith("check_")])
def test_a_grader_answers_a_wrong_argument_with_a_message(name, capsys):
    feedback = getattr(exercises, name)(42)
    assert isinstance(feedback, exercises.Feedback) and not feedback
    assert capsys.readouterr().out.startswith("❌")
    assert inspect.getdoc(getattr(exercises, name)).startswith("Grade")
