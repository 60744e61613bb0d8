"""llmbook.exercises.training: the schedule and freezing graders."""

from llmbook import exercises as ex
from llmbook.training import warmup_cosine_lr


def _stub(*args):
    raise NotImplementedError


def test_warmup_grader():
    assert ex.check_warmup_cosine(lambda s, a, w, t, m: warmup_cosine_lr(
        s, max_lr=a, warmup_steps=w, total_steps=t, min_lr=m))
    assert not ex.check_warmup_cosine(lambda *args: 0.0)
    assert not ex.check_warmup_cosine(lambda *args: 1 / 0)


def test_freeze_body(capsys):
    def right(model):
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("classifier")
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert ex.check_freeze_body(right)
    assert not ex.check_freeze_body(lambda model: 51)
    assert "still trainable" in capsys.readouterr().out
    assert not ex.check_freeze_body(_stub)
