"""llmbook.bootstrap: the quantile is numpy's, the interval is the percentiles of the
resampled scores, has the width theory predicts for accuracy, and bad input is answered."""

from __future__ import annotations

import functools
import math
import random

import numpy as np
import pytest
import torch

from llmbook.bootstrap import BootstrapCI, bootstrap_ci, quantile
from llmbook.classification import accuracy, macro_f1


def test_quantile_equals_numpy():
    rng = random.Random(0)
    for _ in range(300):
        xs = [rng.choice([rng.random(), rng.randrange(5)]) for _ in range(rng.randrange(1, 40))]
        for q in (0.0, 0.025, 0.05, 0.5, 0.9, 0.975, 1.0, rng.random()):
            assert quantile(xs, q) == pytest.approx(float(np.quantile(xs, q)), abs=1e-15)


def _labels(m, acc, seed):
    rng = random.Random(seed)
    t = [rng.randrange(3) for _ in range(m)]
    p = [y if rng.random() < acc else (y + 1) % 3 for y in t]
    return t, p


def test_interval_is_the_percentiles_of_the_replicates():
    t, p = _labels(300, 0.8, 1)
    ci = bootstrap_ci(accuracy, t, p, n=400, seed=3)
    assert isinstance(ci, BootstrapCI) and len(ci.replicates) == 400
    assert ci.estimate == pytest.approx(accuracy(t, p), abs=1e-7)   # float32
    assert ci.low == pytest.approx(float(np.quantile(ci.replicates, 0.025)), abs=1e-15)
    assert ci.high == pytest.approx(float(np.quantile(ci.replicates, 0.975)), abs=1e-15)
    assert ci.low <= ci.estimate <= ci.high
    # the same resamples, drawn independently here
    rng = random.Random(3)
    first = rng.choices(range(300), k=300)
    assert ci.replicates[0] == accuracy([t[i] for i in first], [p[i] for i in first])
    assert bootstrap_ci(accuracy, t, p, n=400, seed=3) == ci           # reproducible
    assert bootstrap_ci(accuracy, t, p, n=400, seed=4).replicates != ci.replicates
    assert "95% CI" in str(ci)


def test_accuracy_interval_matches_the_normal_approximation():
    t, p = _labels(2000, 0.9, 2)
    ci = bootstrap_ci(accuracy, t, p, n=500)
    a = ci.estimate
    expected = 1.959964 * math.sqrt(a * (1 - a) / len(t))    # ±1.3 points at 90 %
    assert ci.half_width == pytest.approx(expected, rel=0.12)
    narrower = bootstrap_ci(accuracy, t, p, n=500, level=0.8)
    assert narrower.low > ci.low and narrower.high < ci.high


def test_macro_f1_tensors_and_other_metrics():
    t, p = _labels(200, 0.7, 5)
    ci = bootstrap_ci(functools.partial(macro_f1, num_classes=3), torch.tensor(t),
                      np.array(p), n=200)
    assert ci.estimate == macro_f1(t, p, 3) and ci.low < ci.estimate < ci.high
    # anything paired works: here sentences of tags and entity F1
    from llmbook import ner

    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"], ["O", "B-ORG", "I-ORG"]] * 20
    pred = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "O"], ["O", "B-ORG", "O"]] * 20
    ci = bootstrap_ci(lambda g, q: ner.entity_scores(g, q).f1, gold, pred, n=100)
    assert ci.estimate == pytest.approx(2 / 3) and 0.4 < ci.low <= ci.high < 0.9
    # a metric returning a tensor is accepted
    ci = bootstrap_ci(lambda a, b: torch.tensor(accuracy(a, b)), t, p, n=20)
    assert ci.estimate == pytest.approx(accuracy(t, p), abs=1e-7)   # float32


@pytest.mark.parametrize("kwargs, error, match", [
    ({"metric_fn": "accuracy"}, TypeError, "must be a function"),
    ({"y_true": [0, 1, 1]}, ValueError, "differ in length"),
    ({"y_true": [1], "y_pred": [1]}, ValueError, "at least 2 examples"),
    ({"y_true": "0101", "y_pred": "0101"}, TypeError, "one entry per example"),
    ({"n": 0}, ValueError, "positive int"),
    ({"level": 95}, ValueError, "strictly between 0 and 1"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
    ({"metric_fn": lambda a, b: "high"}, TypeError, "must return a number"),
    ({"metric_fn": lambda a, b: float("nan")}, ValueError, "NaN"),
    ({"metric_fn": lambda a, b: 1 / 0}, RuntimeError, "full label set"),
])
def test_errors(kwargs, error, match):
    args = {"metric_fn": accuracy, "y_true": [0, 1, 1, 0], "y_pred": [0, 1, 0, 0], "n": 10}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        bootstrap_ci(args.pop("metric_fn"), args.pop("y_true"), args.pop("y_pred"), **args)
    with pytest.raises(ValueError, match="empty"):
        quantile([], 0.5)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        quantile([1.0], 1.5)
