"""llmbook.exercises._feedback: the Feedback of every grader and the loop over its cases."""

import torch

from llmbook.exercises._feedback import Case, Feedback, _call, _compare, _run_cases


def test_feedback_is_truthy_when_passed_and_shows_nothing_more():
    assert Feedback(True, "ok") and not Feedback(False, "no")
    assert repr(Feedback(True, "ok")) == "✅ ok" and repr(Feedback(False, "no")) == "❌ no"
    assert Feedback(True, "ok")._ipython_display_() is None


def test_call_turns_errors_into_messages():
    def stub():
        raise NotImplementedError

    assert _call(lambda x: x + 1, 1) == (True, 2)
    assert _call(stub) == (False, "the function still raises NotImplementedError — write "
                                  "its body.")
    ok, message = _call(lambda: 1 / 0)
    assert not ok and message.startswith("the function raised ZeroDivisionError")


def test_compare_says_what_is_wrong():
    ref = torch.zeros(2, 3)
    assert _compare("x", torch.zeros(2, 3), ref) is None
    assert "returned None" in _compare("x", None, ref)
    assert "torch.Tensor" in _compare("x", [0.0], ref)
    assert "expected shape (2, 3)" in _compare("x", torch.zeros(3, 2), ref)
    assert "NaN or inf" in _compare("x", torch.full((2, 3), float("nan")), ref)
    assert "differ" in _compare("x", torch.ones(2, 3), ref)


def test_run_cases_reports_the_first_problem(capsys):
    judge = lambda case, got: None if got == case.context else f"{case.label}: {got}"  # noqa: E731
    cases = [Case("one", (1,), 2), Case("two", (2,), 3)]
    assert _run_cases(lambda x: x + 1, cases, judge, "all right")
    assert capsys.readouterr().out == "✅ all right\n"
    feedback = _run_cases(lambda x: 2, cases, judge, "all right")
    assert not feedback and feedback.message == "two: 2"
    assert _run_cases(lambda x: 1 / 0, cases, judge, "").message.startswith("one: the function")
    assert _run_cases(lambda x: 1 / 0, [Case(None, (1,))], judge, "").message.startswith(
        "the function raised")
    assert _run_cases(3, cases, judge, "").message == "pass your function itself, not int."
    assert _run_cases(lambda x: x + 1, cases, judge, lambda: "made later").message == \
        "made later"
