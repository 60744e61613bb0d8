"""llmbook.env: seeding every generator at once, the device, the environment report."""

import random

import pytest
import torch

from llmbook import env, seed_everything


def test_seed_everything_repeats_every_generator(monkeypatch):
    monkeypatch.delenv("LLMBOOK_SEED_SHIFT", raising=False)
    seed_everything(3)
    first = (random.random(), torch.rand(2))
    seed_everything(3)
    again = (random.random(), torch.rand(2))
    assert first[0] == again[0] and torch.equal(first[1], again[1])
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything("3")


def test_best_device_and_report(capsys):
    assert env.best_device() in ("cuda", "mps", "cpu")
    report = env.environment_report(show=False)
    assert capsys.readouterr().out == ""
    assert {"python", "libraries", "device", "resources"} <= set(report)
    assert report["libraries"]["torch"] == torch.__version__.split("+")[0] or \
        report["libraries"]["torch"].startswith(torch.__version__.split("+")[0])


def test_seed_shift_moves_every_seed(monkeypatch):
    import torch
    from llmbook.env import seed_everything
    seed_everything(1)
    expected = torch.rand(3)
    monkeypatch.setenv("LLMBOOK_SEED_SHIFT", "1")
    seed_everything(0)
    assert torch.equal(torch.rand(3), expected)
    monkeypatch.setenv("LLMBOOK_SEED_SHIFT", "one")
    with pytest.raises(ValueError, match="LLMBOOK_SEED_SHIFT"):
        seed_everything(0)


def test_import_quiets_the_time_stamped_library_warnings():
    import logging

    import llmbook
    from llmbook import env

    assert hasattr(llmbook, "quiet_library_logs")
    for name in env.QUIET_LOGGERS:
        assert logging.getLogger(name).level == logging.ERROR
