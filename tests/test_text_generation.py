"""llmbook.text_generation: generate-and-decode-only-the-new-tokens, chats, batches, streaming.

Each function is checked against transformers' own ``model.generate`` (ids equal), on a tiny
random GPT-2 with a word-level tokenizer (fast, nothing downloaded) and on SmolLM2 (the chat
template, left padding with rotary positions, streaming).
"""

from __future__ import annotations

import logging
import sys

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, GPT2Model,
                          PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration)

from llmbook import resources
from llmbook import text_generation as tg

WORDS = ["<pad>", "<eos>", "<unk>"] + ("the a cat dog sat on mat ran to park and big small red "
                                       "blue green house tree").split()


def tiny_tokenizer():
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                   eos_token="<eos>", unk_token="<unk>",
                                   model_input_names=["input_ids", "attention_mask"])


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(WORDS), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=1, eos_token_id=1, pad_token_id=0)
    return GPT2LMHeadModel(config).eval(), tiny_tokenizer()


@pytest.fixture(scope="module")
def smol():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)          # steadier on a shared 2-core machine
    yield resources.load_smollm2(verbose=False)
    torch.set_num_threads(threads)


CHAT = [{"role": "user", "content": "What is the capital of France?"}]


# --- prompts ---------------------------------------------------------------------------------

def test_chat_prompt_is_the_template_string(smol):
    _, tok = smol
    text = tg.chat_prompt(tok, CHAT)
    assert text == tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nWhat is" in text
    assert not tg.chat_prompt(tok, CHAT, add_generation_prompt=False).endswith("assistant\n")


def test_encode_prompt_of_a_chat_is_the_templated_string_tokenised(smol):
    _, tok = smol
    enc = tg.encode_prompt(tok, CHAT)
    again = tok(tg.chat_prompt(tok, CHAT), add_special_tokens=False, return_tensors="pt")
    assert torch.equal(enc["input_ids"], again.input_ids)
    assert enc["input_ids"].shape == enc["attention_mask"].shape and enc["attention_mask"].all()


def test_encode_prompt_of_a_string(tiny):
    _, tok = tiny
    enc = tg.encode_prompt(tok, "the cat sat")
    assert enc["input_ids"].tolist() == [[3, 5, 7]]


@pytest.mark.parametrize("messages, error, text", [
    ([], TypeError, "non-empty list"),
    ("hello", ValueError, "prompt"),                    # a str is a prompt, not messages
    ([{"role": "robot", "content": "hi"}], ValueError, "role"),
    ([{"role": "user"}], ValueError, "exactly the keys"),
    ([{"role": "user", "content": 3}], TypeError, "content"),
])
def test_bad_messages_are_refused(smol, messages, error, text):
    _, tok = smol
    with pytest.raises(error, match=text):
        if isinstance(messages, str):
            tg.encode_prompt(tok, "")
        else:
            tg.chat_prompt(tok, messages)


def test_a_tokenizer_without_a_chat_template_is_refused(tiny):
    _, tok = tiny
    with pytest.raises(ValueError, match="no chat template"):
        tg.chat_prompt(tok, CHAT)


# --- only the new tokens ---------------------------------------------------------------------

def test_new_tokens_slices_after_the_prompt():
    prompt = torch.tensor([[0, 5, 6], [4, 5, 6]])
    out = torch.cat([prompt, torch.tensor([[7, 8], [9, 1]])], 1)
    assert tg.new_tokens(out, prompt).tolist() == [[7, 8], [9, 1]]
    with pytest.raises(ValueError, match="does not start with"):
        tg.new_tokens(out[:, 1:], prompt[:, :2])
    with pytest.raises(ValueError, match="2-D"):
        tg.new_tokens(out[0], prompt)
    with pytest.raises(ValueError, match="cannot continue"):
        tg.new_tokens(prompt[:, :2], prompt)


def test_generate_text_matches_generate_then_slice(tiny):
    model, tok = tiny
    ids = tok("the cat sat", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=6, do_sample=False, pad_token_id=0)
    expected = tok.decode(out[0, ids.input_ids.shape[1]:], skip_special_tokens=True)
    assert tg.generate_text(model, tok, "the cat sat", 6) == expected
    whole = tok.decode(out[0], skip_special_tokens=True)
    assert whole.startswith("the cat sat") and whole != expected   # the prompt is not repeated


def test_sampling_with_a_seed_repeats_and_leaves_the_global_rng_alone(tiny):
    model, tok = tiny
    state = torch.get_rng_state()
    a = tg.generate_text(model, tok, "the", 8, do_sample=True, temperature=1.5, seed=3)
    assert torch.equal(state, torch.get_rng_state())
    b = tg.generate_text(model, tok, "the", 8, do_sample=True, temperature=1.5, seed=3)
    assert a == b
    torch.manual_seed(3)   # the same as seeding generate by hand (top_k=0: no top-k cut)
    out = model.generate(**tok("the", return_tensors="pt"), max_new_tokens=8, do_sample=True,
                         temperature=1.5, top_k=0, pad_token_id=0)
    assert a == tok.decode(out[0, 1:], skip_special_tokens=True)
    samples = {tg.generate_text(model, tok, "the", 8, do_sample=True, temperature=1.5, seed=s)
               for s in range(4)}
    assert len(samples) > 1


def test_generate_text_on_a_chat(smol):
    model, tok = smol
    enc = tok.apply_chat_template(CHAT, add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    out = model.generate(**enc, max_new_tokens=3, do_sample=False)
    expected = tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert tg.generate_text(model, tok, CHAT, 3) == expected


# --- batches ---------------------------------------------------------------------------------

def test_generate_batch_equals_one_prompt_at_a_time(smol):
    model, tok = smol
    prompts = ["Hello, my name is", "The capital of France is the city of"]
    side, pad = tok.padding_side, tok.pad_token
    batch = tg.generate_batch(model, tok, prompts, 3)
    assert batch == [tg.generate_text(model, tok, p, 3) for p in prompts]
    assert (tok.padding_side, tok.pad_token) == (side, pad)           # put back


def test_generate_batch_of_chats(smol):
    model, tok = smol
    chats = [CHAT, [{"role": "user", "content": "Say hi."}]]
    assert tg.generate_batch(model, tok, chats, 2) == [tg.generate_text(model, tok, c, 2)
                                                       for c in chats]
    with pytest.raises(TypeError, match="non-empty list"):
        tg.generate_batch(model, tok, "one prompt", 3)
    with pytest.raises(ValueError, match="empty"):
        tg.generate_batch(model, tok, ["a", ""], 3)


def test_generate_batch_pads_with_eos_when_there_is_no_pad_token(tiny):
    model, tok = tiny
    tok = tiny_tokenizer()
    tok.pad_token = None
    assert tok.pad_token is None
    texts = tg.generate_batch(model, tok, ["the cat sat on", "a dog"], 3)
    assert len(texts) == 2 and tok.pad_token is None and tok.padding_side == "right"


# --- streaming -------------------------------------------------------------------------------

def test_stream_text_pieces_join_to_generate_text(smol):
    model, tok = smol
    pieces = list(tg.stream_text(model, tok, CHAT, 5))
    assert len(pieces) > 1 and "".join(pieces) == tg.generate_text(model, tok, CHAT, 5)


def test_stream_text_raises_the_threads_error(tiny, monkeypatch):
    model, tok = tiny

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(model, "generate", broken)
    with pytest.raises(RuntimeError, match="boom"):
        list(tg.stream_text(model, tok, "the cat", 4, timeout=30))
    with pytest.raises(ValueError, match="timeout"):
        list(tg.stream_text(model, tok, "the cat", 4, timeout=0))


# --- argument checks -------------------------------------------------------------------------

def test_a_model_without_a_language_modelling_head_is_refused(tiny):
    _, tok = tiny
    body = GPT2Model(GPT2Config(vocab_size=len(WORDS), n_positions=16, n_embd=8, n_layer=1,
                                n_head=2))
    encoder = BertModel(BertConfig(vocab_size=len(WORDS), hidden_size=8, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=8))
    for model in (body, encoder):
        with pytest.raises(TypeError, match="AutoModelForCausalLM"):
            tg.generate_text(model, tok, "the cat")
    seq2seq = T5ForConditionalGeneration(T5Config(vocab_size=len(WORDS), d_model=8, d_ff=8,
                                                  num_layers=1, num_heads=1, d_kv=8))
    with pytest.raises(TypeError, match="encoder-decoder"):
        tg.generate_text(seq2seq, tok, "the cat")
    with pytest.raises(TypeError, match="tokenizer first"):
        tg.generate_text(tok, body, "the cat")


@pytest.mark.parametrize("kwargs, error, text", [
    ({"max_new_tokens": 0}, ValueError, "positive int"),
    ({"max_new_tokens": True}, ValueError, "positive int"),
    ({"max_length": 10}, ValueError, "max_new_tokens"),
    ({"temperature": 0.7}, ValueError, "do_sample=True"),
    ({"seed": 1}, ValueError, "do_sample=True"),
    ({"do_sample": 1}, TypeError, "True or False"),
    ({"do_sample": True, "temperature": 0}, ValueError, "temperature"),
    ({"do_sample": True, "top_p": 1.5}, ValueError, "top_p"),
    ({"do_sample": True, "top_k": 0}, ValueError, "top_k"),
    ({"do_sample": True, "seed": 1.0}, TypeError, "seed"),
    ({"input_ids": None}, ValueError, "set by this function"),
])
def test_bad_generation_arguments_are_refused(tiny, kwargs, error, text):
    model, tok = tiny
    with pytest.raises(error, match=text):
        tg.generate_text(model, tok, "the cat", **kwargs)


def test_bad_tokenizer_and_empty_prompt(tiny):
    model, tok = tiny
    with pytest.raises(TypeError, match="tokenizer"):
        tg.generate_text(model, "not a tokenizer", "the cat")
    with pytest.raises(ValueError, match="empty"):
        tg.generate_text(model, tok, "")


def test_ids_out_of_the_models_range_are_caught(tiny, smol):
    model, _ = tiny
    _, smol_tok = smol
    with pytest.raises(ValueError, match="different checkpoints"):
        tg.generate_text(model, smol_tok, "Hello there, Paris")


# --- diagnostics -----------------------------------------------------------------------------

def test_pair_mismatches(smol, tiny):
    model, tok = smol
    minilm, mini_tok = resources.load_minilm(verbose=False)
    assert tg.pair_mismatches(model, tok) == []
    wrong = tg.pair_mismatches(model, mini_tok)
    assert len(wrong) == 2 and "'[unused1]'" in wrong[1] and "eos_token_id = pad_token_id" in \
        wrong[1]
    too_big = tg.pair_mismatches(minilm, tok)
    assert any("49,152 tokens" in p and "30,522 rows" in p for p in too_big)
    with pytest.raises(TypeError, match="transformers model"):
        tg.pair_mismatches(tok, model)


def test_collect_warnings_catches_the_right_padding_warning(tiny, capsys):
    model, _ = tiny
    tok = tiny_tokenizer()                                 # pads on the right
    logger = logging.getLogger("transformers")
    before = logger.handlers[:], logger.level, logger.propagate
    batch = tok(["the cat sat on", "a dog"], padding=True, return_tensors="pt")
    with tg.collect_warnings() as caught:
        model.generate(**batch, max_new_tokens=2, do_sample=False, pad_token_id=0)
        import warnings
        warnings.warn("a python warning", UserWarning)
    assert (logger.handlers, logger.level, logger.propagate) == before
    assert "a python warning" in caught
    if int(__import__("transformers").__version__.split(".")[0]) >= 5:
        assert any("right-padding was detected" in m for m in caught), caught
    assert "right-padding" not in capsys.readouterr().err
    sys.stderr.flush()
