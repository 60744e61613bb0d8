"""llmbook.classification: the metrics equal scikit-learn's, the batching is right, the loop
trains, and bad input is answered clearly."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from llmbook import classification as C


def _random_labels(n, k, seed):
    rng = random.Random(seed)
    return [rng.randrange(k) for _ in range(n)], [rng.randrange(k) for _ in range(n)]


@pytest.mark.parametrize("n, k, seed", [(1, 2, 0), (10, 2, 1), (200, 3, 2), (57, 5, 3)])
def test_metrics_equal_scikit_learn(n, k, seed):
    sk = pytest.importorskip("sklearn.metrics")
    t, p = _random_labels(n, k, seed)
    assert C.accuracy(t, p) == pytest.approx(sk.accuracy_score(t, p), abs=1e-12)
    labels = list(range(k))
    assert C.macro_f1(t, p, k) == pytest.approx(
        sk.f1_score(t, p, average="macro", labels=labels, zero_division=0), abs=1e-12)
    assert C.confusion_matrix(t, p, k) == sk.confusion_matrix(t, p, labels=labels).tolist()
    prec, rec, f1, sup = sk.precision_recall_fscore_support(t, p, labels=labels,
                                                            zero_division=0)
    for c, row in enumerate(C.precision_recall_f1(t, p, k)):
        assert row["precision"] == pytest.approx(prec[c], abs=1e-12)
        assert row["recall"] == pytest.approx(rec[c], abs=1e-12)
        assert row["f1"] == pytest.approx(f1[c], abs=1e-12)
        assert row["support"] == sup[c]


def test_majority_class_scores():
    t = [1] * 6 + [0] * 4
    p = [1] * 10
    assert C.accuracy(t, p) == 0.6
    assert C.macro_f1(t, p) == pytest.approx((0 + 2 * 0.6 / 1.6) / 2)
    assert C.confusion_matrix(t, p) == [[0, 4], [0, 6]]
    assert C.accuracy(torch.tensor(t), torch.tensor(p)) == 0.6


@pytest.mark.parametrize("t, p, error, match", [
    ([], [], ValueError, "empty"),
    ([0, 1], [0], ValueError, "differ in length"),
    ("01", "01", TypeError, "list or 1-D tensor"),
    ([0, 1.0], [0, 1], TypeError, "non-negative int"),
    ([0, -1], [0, 1], TypeError, "non-negative int"),
    (torch.zeros(2, 2, dtype=torch.long), [0, 1], ValueError, "1-D"),
])
def test_metrics_reject_bad_input(t, p, error, match):
    with pytest.raises(error, match=match):
        C.accuracy(t, p)


def test_num_classes_is_checked():
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        C.confusion_matrix([0, 2], [0, 1], num_classes=2)
    assert C.confusion_matrix([0], [0], num_classes=3) == [[1, 0, 0], [0, 0, 0], [0, 0, 0]]


def test_length_batches_cover_every_index_once_and_group_lengths():
    rng = random.Random(0)
    lengths = [rng.randrange(5, 60) for _ in range(1000)]
    batches = C.length_batches(lengths, 32, seed=0)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000))
    assert C.length_batches(lengths, 32, seed=0) == batches
    assert C.length_batches(lengths, 32, seed=1) != batches
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    random_padded = sum(32 * max(lengths[i:i + 32]) for i in range(0, 1000, 32))
    assert padded < 0.8 * random_padded
    assert C.length_batches([3, 1, 2], 2, seed=None) == [[1, 2], [0]]


def test_linear_warmup_lr_matches_transformers():
    from transformers import get_linear_schedule_with_warmup

    param = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = get_linear_schedule_with_warmup(opt, 5, 40)
    for step in range(40):
        assert C.linear_warmup_lr(step, max_lr=0.1, warmup_steps=5, total_steps=40) == \
            pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
        opt.step()
        sched.step()


class _Toy(nn.Module):
    """A bag-of-embeddings classifier with the Hugging Face calling convention."""

    def __init__(self, vocab=50, k=2):
        super().__init__()
        self.config = type("Config", (), {"num_labels": k})()
        self.emb = nn.Embedding(vocab, 16)
        self.classifier = nn.Linear(16, k)

    def forward(self, input_ids, attention_mask, labels=None):
        m = attention_mask.unsqueeze(-1).float()
        h = (self.emb(input_ids) * m).sum(1) / m.sum(1)
        logits = self.classifier(h)
        loss = None if labels is None else nn.functional.cross_entropy(logits, labels)
        return type("Out", (), {"logits": logits, "loss": loss})()


class _Tok:
    pad_token_id = 0

    def __call__(self, texts, truncation=True, max_length=64):
        return {"input_ids": [[1] + [2 + (ord(c) % 40) for c in t][:max_length - 1]
                              for t in texts]}


def _toy_data(n=200, seed=0):
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        y = rng.randrange(2)
        word = "good" if y else "bad"
        data.append((" ".join(rng.choice([word, "the", "film"]) for _ in range(rng.randrange(3, 9))) + " " + word, y))
    return data


def test_train_classifier_learns_a_separable_task():
    torch.manual_seed(0)
    model, tok = _Toy(), _Tok()
    data = _toy_data()
    before = C.evaluate_classifier(model, tok, data).accuracy
    hist = C.train_classifier(model, tok, data, epochs=3, batch_size=16, lr=0.05,
                              progress=False)
    report = C.evaluate_classifier(model, tok, data)
    assert report.accuracy > max(before, 0.9)
    assert len(hist.losses) == 3 * 13 and hist.examples == 600
    assert hist.trainable_parameters == sum(p.numel() for p in model.parameters())
    assert hist.lrs[0] == 0.0 and max(hist.lrs) == pytest.approx(0.05, rel=0.1)
    assert not model.training
    assert sum(map(sum, report.confusion)) == 200
    assert "accuracy=" in repr(report)


def test_train_classifier_updates_only_unfrozen_parameters():
    torch.manual_seed(0)
    model, tok = _Toy(), _Tok()
    model.emb.weight.requires_grad_(False)
    frozen = model.emb.weight.clone()
    hist = C.train_classifier(model, tok, _toy_data(64), batch_size=16, lr=0.05, progress=False)
    assert torch.equal(model.emb.weight, frozen)
    assert hist.trainable_parameters == 16 * 2 + 2


def test_predict_keeps_order_and_mode():
    torch.manual_seed(0)
    model, tok = _Toy(), _Tok()
    model.train()
    texts = ["good film", "bad", "the film was good good good", "x"]
    preds = C.predict(model, tok, texts, batch_size=2)
    assert model.training, "predict restores the mode"
    one_by_one = [C.predict(model, tok, [t])[0] for t in texts]
    assert preds == one_by_one


def test_bad_input_is_answered_clearly():
    from transformers import BertConfig, BertModel

    model, tok = _Toy(), _Tok()
    with pytest.raises(ValueError, match="data is empty"):
        C.train_classifier(model, tok, [], progress=False)
    with pytest.raises(TypeError, match=r"\(text, int label\) pair"):
        C.train_classifier(model, tok, [("a", "pos")], progress=False)
    with pytest.raises(ValueError, match="load it with num_labels=3"):
        C.train_classifier(model, tok, [("a", 2), ("b", 0)], progress=False)
    with pytest.raises(ValueError, match="load it with num_labels=3"):
        C.evaluate_classifier(model, tok, [("a", 2)])
    with pytest.raises(ValueError, match="warmup is a fraction"):
        C.train_classifier(model, tok, _toy_data(8), warmup=2, progress=False)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        C.train_classifier(model, tok, _toy_data(8), progress=False)
    encoder = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=32))
    with pytest.raises(TypeError, match="AutoModelForSequenceClassification"):
        C.train_classifier(encoder, tok, _toy_data(8), progress=False)
    with pytest.raises(TypeError, match="AutoModelForSequenceClassification"):
        C.predict(encoder, tok, ["a"])

    class NoPad(_Tok):
        pad_token_id = None

    with pytest.raises(ValueError, match="no pad token"):
        C.predict(_Toy(), NoPad(), ["a"])


def test_pad_batch():
    ids, mask = C.pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    with pytest.raises(ValueError, match="non-empty"):
        C.pad_batch([[1], []], 0)
