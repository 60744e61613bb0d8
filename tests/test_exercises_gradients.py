"""llmbook.exercises.gradients: the softmax-backward grader."""

from llmbook import exercises as ex
from llmbook import grads


def test_softmax_backward():
    assert ex.check_softmax_backward(grads.softmax_backward)
    wrong = ex.check_softmax_backward(lambda p, g: p * g)
    assert not wrong and "diagonal" in wrong.message
    assert not ex.check_softmax_backward(lambda p, g: 1 / 0)
