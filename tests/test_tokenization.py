"""Tests of llmbook.tokenization: BPE from scratch, against Hugging Face tokenizers."""

import pytest

from llmbook import tokenization as tk

TEXT = ("low lower lowest newer newest wider widest\n" * 5
        + "the cat sat on the mat, and the rat sat too!\n" * 8)


def test_pre_tokenize_round_trip():
    assert tk.pre_tokenize("To be, or not") == ["To", " be", ",", " or", " not"]
    text = "Hi  there,\n\nyou 你好!"
    assert "".join(tk.pre_tokenize(text)) == text
    with pytest.raises(TypeError):
        tk.pre_tokenize(None)


def test_train_encode_decode():
    bpe = tk.BPETokenizer.train(TEXT, 50)
    assert bpe.vocab_size == len(bpe) == 50
    assert bpe.merges[0] == (" ", "t") or bpe.merges[0][0] + bpe.merges[0][1] in bpe.vocab
    ids = bpe.encode(TEXT)
    assert bpe.decode(ids) == TEXT
    assert len(ids) < len(TEXT) / 2                      # merges compress the text
    assert " the" in bpe.tokenize(" the cat")
    assert "BPETokenizer" in repr(bpe)


def test_first_merge_is_most_frequent_pair():
    bpe = tk.BPETokenizer.train("aaab aaab ab", 10)
    # pairs: (a,a) x4, (a,b) x3, ( ,a) x2 ... -> (a, a) first
    assert bpe.merges[0] == ("a", "a")


def test_stops_when_pairs_are_rare():
    bpe = tk.BPETokenizer.train("abcd", 100)
    assert bpe.merges == [] and bpe.vocab_size == 4


def test_matches_hugging_face_on_the_same_text():
    ours = tk.BPETokenizer.train(TEXT, 50)
    hf = tk.train_hf_bpe(TEXT, 50)
    assert hf.get_vocab_size() == 50
    assert tk.vocabulary_overlap(ours.vocab, hf.get_vocab()) > 0.8
    assert hf.decode(hf.encode(TEXT).ids) == TEXT
    words = "the lowest rat sat"
    assert tk.tokens_per_word(ours.tokenize, words) == pytest.approx(
        tk.tokens_per_word(lambda t: hf.encode(t).tokens, words), abs=0.5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="empty"):
        tk.BPETokenizer.train("", 10)
    with pytest.raises(ValueError, match="smaller than"):
        tk.BPETokenizer.train("abcdef", 3)
    with pytest.raises(TypeError):
        tk.BPETokenizer.train("abc", 10.0)
    with pytest.raises(ValueError, match="min_frequency"):
        tk.BPETokenizer.train("abc", 10, min_frequency=0)
    bpe = tk.BPETokenizer.train(TEXT, 50)
    with pytest.raises(ValueError, match="not seen in training"):
        bpe.encode("XYZ")
    with pytest.raises(ValueError, match="ids outside"):
        bpe.decode([10_000])
    with pytest.raises(ValueError, match="alphabet"):
        tk.BPETokenizer(["ab"], [])
    with pytest.raises(ValueError, match="already in the vocabulary"):
        tk.BPETokenizer(["a"], [("a", "b")])
    with pytest.raises(ValueError, match="smaller than"):
        tk.train_hf_bpe("abcdef", 3)
    with pytest.raises(ValueError, match="non-empty"):
        tk.vocabulary_overlap([], ["a"])
    with pytest.raises(ValueError, match="no words"):
        tk.tokens_per_word(str.split, "   ")
    with pytest.raises(TypeError):
        tk.tokens_per_word("split", "a b")
