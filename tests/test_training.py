"""Tests of llmbook.training: splits, schedule, optimizers, the loop, searches."""
import math

import pytest
import torch
import torch.nn as nn

from llmbook.training import (decay_groups, grid_search, make_optimizer, random_search,
                              split_indices, train_loop, warmup_cosine_lr)


def test_split_indices():
    tr, va, te = split_indices(100, (0.8, 0.1, 0.1), seed=0)
    assert (len(tr), len(va), len(te)) == (80, 10, 10)
    assert sorted(tr + va + te) == list(range(100))
    assert split_indices(100, seed=0) == (tr, va, te)
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, (0.5, 0.2))


def test_warmup_cosine_shape():
    kw = dict(max_lr=1.0, warmup_steps=10, total_steps=110, min_lr=0.1)
    lrs = [warmup_cosine_lr(s, **kw) for s in range(120)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[60] == pytest.approx(0.55)
    assert lrs[115] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    with pytest.raises(ValueError):
        warmup_cosine_lr(0, max_lr=1.0, warmup_steps=20, total_steps=10)
    with pytest.raises(TypeError):
        warmup_cosine_lr(0.5, max_lr=1.0, warmup_steps=1, total_steps=10)


def test_optimizers_and_decay_groups():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    groups = decay_groups(model, 0.1)
    assert [len(g["params"]) for g in groups] == [1, 3]
    for name in ("sgd", "adam", "AdamW"):
        assert isinstance(make_optimizer(name, model, 1e-3, 0.01), torch.optim.Optimizer)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("lion", model, 1e-3)
    with pytest.raises(ValueError):
        make_optimizer("sgd", model, -1.0)


def _regression():
    torch.manual_seed(0)
    X = torch.randn(256, 5)
    y = X @ torch.arange(1.0, 6.0) + 0.5
    model = nn.Linear(5, 1)

    def loss_fn(m, step):
        return ((m(X).squeeze(-1) - y) ** 2).mean()
    return model, loss_fn


def test_train_loop_learns_with_schedule_clipping_and_bf16():
    model, loss_fn = _regression()
    opt = make_optimizer("adamw", model, 0.1)
    hist = train_loop(model, loss_fn, opt, 150, clip_norm=5.0, progress=False,
                      schedule=lambda s: warmup_cosine_lr(s, max_lr=0.1, warmup_steps=10,
                                                          total_steps=150),
                      eval_fn=lambda m: loss_fn(m, 0).item(), eval_every=50,
                      tokens_per_step=256)
    assert hist.loss[-1] < 0.01 * hist.loss[0]
    assert hist.eval_steps == [50, 100, 150] and hist.tokens == 150 * 256
    assert hist.lr[9] == pytest.approx(0.1) and hist.tokens_per_second > 0
    model, loss_fn = _regression()
    hist = train_loop(model, loss_fn, make_optimizer("adam", model, 0.1), 100,
                      autocast_dtype=torch.bfloat16, progress=False)
    assert hist.loss[-1] < 0.1 * hist.loss[0]


def test_train_loop_bad_inputs():
    model, loss_fn = _regression()
    opt = make_optimizer("sgd", model, 0.1)
    with pytest.raises(TypeError):
        train_loop(model, loss_fn, "adam", 10)
    with pytest.raises(ValueError):
        train_loop(model, loss_fn, opt, 0)
    with pytest.raises(ValueError):
        train_loop(model, loss_fn, opt, 5, autocast_dtype=torch.float64)
    with pytest.raises(FloatingPointError):
        train_loop(model, lambda m, s: m.weight.sum() * float("nan"), opt, 3, progress=False)


def test_searches():
    res = grid_search(lambda lr, wd: (math.log10(lr) + 2) ** 2 + wd,
                      {"lr": [1e-3, 1e-2, 1e-1], "wd": [0.0, 0.1]}, progress=False)
    assert len(res) == 6 and res[0]["lr"] == 1e-2 and res[0]["wd"] == 0.0
    res = random_search(lambda lr: abs(lr - 0.01), {"lr": lambda r: 10 ** r.uniform(-3, -1)},
                        8, seed=0, progress=False)
    assert len(res) == 8 and res[0]["score"] <= res[-1]["score"]
    with pytest.raises(ValueError):
        grid_search(lambda: 0, {}, progress=False)
    with pytest.raises(TypeError):
        random_search(lambda lr: 0, {"lr": 3}, 2, progress=False)
