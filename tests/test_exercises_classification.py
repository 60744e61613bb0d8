"""llmbook.exercises.classification: the macro-F1 and calibrated-prediction graders."""

from llmbook import classification
from llmbook import exercises as ex


def test_macro_f1_grader(capsys):
    assert ex.check_macro_f1(lambda t, p: classification.macro_f1(t, p))
    assert not ex.check_macro_f1(classification.accuracy)
    assert "that is the accuracy" in capsys.readouterr().out
    assert not ex.check_macro_f1(lambda t, p: "high")
    assert not ex.check_macro_f1(lambda t, p: 1 / 0)
    assert not ex.check_macro_f1(3)


def test_calibrated_predictions_grader(capsys):
    import torch

    from llmbook import text_classification as tc
    assert ex.check_calibrated_predictions(lambda s, f: tc.calibrate(s, f).argmax(1).tolist())
    assert ex.check_calibrated_predictions(lambda s, f: (s - f).argmax(1))   # a tensor is fine
    assert not ex.check_calibrated_predictions(lambda s, f: s.argmax(1).tolist())
    assert "uncalibrated" in capsys.readouterr().out
    assert not ex.check_calibrated_predictions(lambda s, f: (s + f).argmax(1).tolist())
    assert "added" in capsys.readouterr().out
    assert not ex.check_calibrated_predictions(lambda s, f: "0")
    assert not ex.check_calibrated_predictions(lambda s, f: torch.zeros(0))
    assert not ex.check_calibrated_predictions(None)
