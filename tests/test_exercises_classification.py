"""llmbook.exercises.classification: the macro-F1 grader."""

from llmbook import classification
from llmbook import exercises as ex


def test_macro_f1_grader(capsys):
    assert ex.check_macro_f1(lambda t, p: classification.macro_f1(t, p))
    assert not ex.check_macro_f1(classification.accuracy)
    assert "that is the accuracy" in capsys.readouterr().out
    assert not ex.check_macro_f1(lambda t, p: "high")
    assert not ex.check_macro_f1(lambda t, p: 1 / 0)
    assert not ex.check_macro_f1(3)
