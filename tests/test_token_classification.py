"""llmbook.token_classification: the split, the vocabulary, the BiLSTM tagger (shapes, padding
independence, a tiny run that learns), the gazetteer, saving, and clear input errors."""

from __future__ import annotations

import pytest
import torch

from llmbook import ner
from llmbook import token_classification as tc

TOY = [(list("江泽民在北京"), ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]),
       (list("新华社报道"), ["B-ORG", "I-ORG", "I-ORG", "O", "O"]),
       (list("李鹏到上海"), ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]),
       (list("北京下雪了"), ["B-LOC", "I-LOC", "O", "O", "O"])]


def test_split_is_contiguous():
    data = list(range(100))
    train, val, test = tc.split_sentences(data)
    assert (train, val, test) == (data[:80], data[80:90], data[90:])
    with pytest.raises(ValueError, match="fractions"):
        tc.split_sentences(data, (0.5, 0.6))
    with pytest.raises(ValueError, match="too few"):
        tc.split_sentences([1, 2])
    with pytest.raises(TypeError):
        tc.split_sentences("abc")


def test_vocab():
    vocab = tc.CharVocab.build([c for c, _ in TOY])
    assert vocab.chars[:3] == ["<pad>", "<unk>", "北"]  # 北 and 京 are the most frequent
    assert vocab.encode(["北", "☃"]) == [2, 1]
    assert len(tc.CharVocab.build([c for c, _ in TOY], min_count=2)) < len(vocab)
    with pytest.raises(ValueError, match="distinct"):
        tc.CharVocab(["a", "a"])
    with pytest.raises(ValueError, match="no characters"):
        tc.CharVocab.build([[]])


def test_tagger_shapes_and_padding_do_not_leak():
    torch.manual_seed(0)
    model = tc.BiLSTMTagger(10, emb_dim=8, hidden=6).eval()
    ids = torch.tensor([[2, 3, 4, 0, 0], [5, 6, 7, 8, 9]])
    out = model(ids, torch.tensor([3, 5]))
    assert out.shape == (2, 5, 7)
    alone = model(ids[:1, :3], torch.tensor([3]))
    torch.testing.assert_close(out[:1, :3], alone)  # packing: padding changes nothing
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(ids[0], torch.tensor([3]))
    with pytest.raises(ValueError, match="dropout"):
        tc.BiLSTMTagger(10, dropout=1.5)
    with pytest.raises(ValueError, match="vocab_size"):
        tc.BiLSTMTagger(1)


def test_training_learns_the_toy_data_and_predicts_whole_sentences():
    vocab = tc.CharVocab.build([c for c, _ in TOY])
    torch.manual_seed(0)
    model = tc.BiLSTMTagger(len(vocab), emb_dim=16, hidden=16, dropout=0.0)
    history = tc.train_tagger(model, vocab, TOY * 8, epochs=15, batch_size=4, lr=2e-2,
                              progress=False)
    assert history.losses[-1] < 0.1 < history.losses[0]
    assert history.sentences == 15 * 32 and not model.training
    pred = tc.predict_tags(model, vocab, [c for c, _ in TOY] + [""])
    assert pred[-1] == [] and [len(p) for p in pred[:-1]] == [len(c) for c, _ in TOY]
    assert ner.entity_scores([t for _, t in TOY], pred[:-1]).f1 == 1.0
    long = "北京" * 300                                     # longer than max_length
    assert len(tc.predict_tags(model, vocab, [long])[0]) == 600


def test_training_input_errors():
    vocab = tc.CharVocab.build([c for c, _ in TOY])
    model = tc.BiLSTMTagger(len(vocab))
    with pytest.raises(ValueError, match="vocab_size=len"):
        tc.train_tagger(tc.BiLSTMTagger(len(vocab) + 1), vocab, TOY, progress=False)
    with pytest.raises(ValueError, match="one tag per character"):
        tc.train_tagger(model, vocab, [(["a", "b"], ["O"])], progress=False)
    with pytest.raises(ValueError, match="unknown tag"):
        tc.train_tagger(model, vocab, [(["a"], ["B-MISC"])], progress=False)
    with pytest.raises(TypeError, match="pair"):
        tc.train_tagger(model, vocab, ["abc"], progress=False)
    with pytest.raises(ValueError, match="empty"):
        tc.train_tagger(model, vocab, [], progress=False)
    with pytest.raises(TypeError, match="BiLSTMTagger"):
        tc.predict_tags(object(), vocab, ["ab"])


def test_gazetteer_longest_match_and_majority_type():
    gaz = tc.Gazetteer.build(TOY + [(list("北京大学"), ["B-ORG", "I-ORG", "I-ORG", "I-ORG"])])
    assert "北京" in gaz and gaz.names["北京"] == "LOC" and gaz.names["北京大学"] == "ORG"
    assert gaz.tag("北京大学的李鹏") == ["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-PER",
                                    "I-PER"]
    assert gaz.tag_all(["上海", ""]) == [["B-LOC", "I-LOC"], []]
    short = tc.Gazetteer({"京": "LOC", "北京": "LOC"}, min_length=2)
    assert len(short) == 1 and short.tag("京") == ["O"]
    with pytest.raises(ValueError, match="no usable type"):
        tc.Gazetteer({"上海": ""})
    with pytest.raises(TypeError, match="dict"):
        tc.Gazetteer(["上海"])


def test_save_and_load(tmp_path):
    vocab = tc.CharVocab.build([c for c, _ in TOY])
    torch.manual_seed(0)
    model = tc.BiLSTMTagger(len(vocab), emb_dim=8, hidden=8).eval()
    tc.save_tagger(model, vocab, tmp_path / "t", extra={"note": "toy"})
    again, vocab2, record = tc.load_tagger(tmp_path / "t.safetensors")
    assert vocab2.chars == vocab.chars and record["note"] == "toy"
    ids, lens = torch.tensor([[2, 3, 4]]), torch.tensor([3])
    torch.testing.assert_close(model(ids, lens), again(ids, lens))
    with pytest.raises(FileNotFoundError, match="train_ner"):
        tc.load_tagger(tmp_path / "missing")


def test_entity_html_marks_mismatches_in_text():
    chars = list("李鹏到上海")
    gold = ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    pred = ["B-PER", "I-PER", "O", "B-ORG", "I-ORG"]
    html = tc.entity_html(chars, gold, pred)
    assert html.count("<mark") == 4 and html.count("✗") == 2
    assert "<sub>PER</sub>" in html and "<sub>ORG ✗</sub>" in html
    assert "<" not in tc.entity_html(["<"], ["O"], ["O"]).split("gold</b>: ")[1][:4]
    with pytest.raises(ValueError, match="length"):
        tc.entity_html(chars, gold, pred[:2])


def test_encode_batch():
    vocab = tc.CharVocab.build([c for c, _ in TOY])
    ids, lengths = tc.encode_batch(vocab, ["北京", "北京下雪了"], max_length=4)
    assert ids.shape == (2, 4) and lengths.tolist() == [2, 4] and ids[0, 2:].tolist() == [0, 0]
    with pytest.raises(ValueError, match="empty"):
        tc.encode_batch(vocab, ["北京", ""])
