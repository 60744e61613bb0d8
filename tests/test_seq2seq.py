"""Tests of llmbook.seq2seq: the toy task's data, and a short training run."""

import pytest
import torch

from llmbook.seq2seq import BOS, EOS, PAD, CharTask, exact_match, train_seq2seq
from llmbook.transformer import Transformer


def test_sample_is_seeded_distinct_and_excludes():
    task = CharTask(alphabet="abc", min_len=2, max_len=4)
    first = task.sample(20, seed=0)
    assert first == task.sample(20, seed=0) and len(set(first)) == 20
    assert all(2 <= len(t) <= 4 and set(t) <= set("abc") for t in first)
    other = task.sample(20, seed=1, exclude=set(first))
    assert not set(other) & set(first)


def test_batch_layout_and_round_trip():
    task = CharTask()
    src, tgt_in, tgt_out = task.batch(["abc", "xy"])
    a, b, c = task.encode("abc")
    assert src.tolist()[0] == [a, b, c, EOS]
    assert src.tolist()[1][-1] == PAD
    assert tgt_in.tolist()[0] == [BOS, c, b, a]
    assert tgt_out.tolist()[0] == [c, b, a, EOS]
    assert task.decode(tgt_out[0]) == "cba"
    assert task.decode([BOS, a, EOS, b]) == "a"
    assert task.vocab_size == 29


def test_custom_transform():
    task = CharTask(alphabet="0123456789", transform=lambda s: "".join(sorted(s)))
    _, _, out = task.batch(["3142"])
    assert task.decode(out[0]) == "1234"


def test_bad_inputs():
    with pytest.raises(ValueError, match="repeats"):
        CharTask(alphabet="aab")
    with pytest.raises(ValueError, match="min_len"):
        CharTask(min_len=5, max_len=3)
    task = CharTask(alphabet="ab")
    with pytest.raises(ValueError, match="not in the alphabet"):
        task.encode("abc")
    with pytest.raises(ValueError, match="positive int"):
        task.sample(0, seed=0)
    with pytest.raises(ValueError, match="non-empty"):
        task.batch([])
    model = Transformer(task.vocab_size, task.vocab_size, 16, 2, 1, 1, 32)
    with pytest.raises(ValueError, match="batch_size"):
        train_seq2seq(model, task, ["ab"], ["ba"], steps=2, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="positive ints"):
        train_seq2seq(model, task, ["ab"], ["ba"], steps=0, progress=False)


def test_short_training_lowers_the_loss():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread avoids synchronisation costs
    task = CharTask(alphabet="abcd", min_len=2, max_len=4)
    train = task.sample(200, seed=0)
    valid = task.sample(20, seed=1, exclude=set(train))
    model = Transformer(task.vocab_size, task.vocab_size, 32, 2, 1, 1, 64, dropout=0.0)
    history = train_seq2seq(model, task, train, valid, steps=40, batch_size=32, lr=3e-3,
                            warmup=10, eval_every=20, progress=False)
    assert len(history.loss) == 40 and history.eval_steps == [20, 40]
    assert sum(history.loss[-10:]) < sum(history.loss[:10])
    assert 0.0 <= exact_match(model, task, valid) <= 1.0
    assert not model.training
    torch.set_num_threads(threads)
