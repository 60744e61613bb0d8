"""Tests of llmbook.decoding: the filters against transformers' logits processors, greedy,
sampling and beam search against ``model.generate`` (tiny random Llama and GPT-2 models, and
SmolLM2 once), the book's GPT through its own ``generate``, KV caches, batching, stops, errors."""

import itertools
import math

import pytest
import torch
from transformers import (LlamaConfig, LlamaForCausalLM, RepetitionPenaltyLogitsProcessor,
                          TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)

from llmbook import decoding as dec
from llmbook.gpt import GPT, GPTConfig, KVCache


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def llama():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=23, block_size=64, n_layer=2, n_head=2, n_embd=32)).eval()


def _logits(seed=0, shape=(4, 50)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g) * 3
    x[0, :5] = 12.0                         # tied maxima
    x[1, 7] = -math.inf                     # an already-removed token
    x[2] = torch.linspace(-200, 5, shape[1])  # probabilities that underflow to 0
    x[3, 10:20] = x[3].median()             # ties in the middle, where top-p cuts
    return x


def _same(a, b):
    """Equal, -inf where the other is -inf; max |a - b| over the finite entries."""
    assert torch.equal(torch.isinf(a), torch.isinf(b))
    finite = torch.isfinite(a)
    return float((a[finite] - b[finite]).abs().max())


ids = torch.randint(50, (4, 6), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("p", [0.05, 0.3, 0.7, 0.9, 0.99, 1.0])
def test_top_p_equals_transformers(p):
    for seed in range(3):
        x = _logits(seed)
        assert _same(dec.top_p_filter(x, p), TopPLogitsWarper(p)(ids, x.clone())) == 0
        assert _same(dec.top_p_filter(x, p, min_tokens_to_keep=3),
                     TopPLogitsWarper(p, min_tokens_to_keep=3)(ids, x.clone())) == 0


@pytest.mark.parametrize("k", [1, 2, 5, 49, 50, 80])
def test_top_k_temperature_and_repetition_equal_transformers(k):
    x = _logits()
    assert _same(dec.top_k_filter(x, k), TopKLogitsWarper(k)(ids, x.clone())) == 0
    for t in (0.3, 1.7):
        assert _same(dec.temperature_scale(x, t), TemperatureLogitsWarper(t)(ids, x.clone())) == 0
    repeated = torch.cat([ids, ids[:, :2]], dim=1)          # duplicates are penalised once
    for penalty in (0.7, 1.3):
        ours = dec.apply_repetition_penalty(x, repeated, penalty)
        assert _same(ours, RepetitionPenaltyLogitsProcessor(penalty)(repeated, x.clone())) == 0
    assert dec.top_k_filter(x, 1)[0].isfinite().sum() == 5  # all tied maxima stay


def _prompt(n=5, seed=2, vocab=64):
    return torch.randint(2, vocab, (1, n), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_sampling_and_penalty_equal_transformers(llama, use_cache):
    x = _prompt()
    hf = llama.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=10,
                        do_sample=False)
    assert torch.equal(dec.generate(llama, x, 10, eos_token_id=1, use_cache=use_cache), hf)
    hf = llama.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=10,
                        do_sample=False, repetition_penalty=1.5)
    assert torch.equal(dec.generate(llama, x, 10, eos_token_id=1, repetition_penalty=1.5,
                                    use_cache=use_cache), hf)
    kwargs = dict(do_sample=True, temperature=0.7, top_k=20, top_p=0.9)
    torch.manual_seed(5)
    hf = llama.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=10, **kwargs)
    torch.manual_seed(5)
    assert torch.equal(dec.generate(llama, x, 10, eos_token_id=1, use_cache=use_cache,
                                    **kwargs), hf)


def test_beam_search_equals_transformers(llama):
    x = _prompt(seed=3)
    greedy = dec.generate(llama, x, 12)[0, x.size(1):].tolist()
    frequent = max(set(greedy), key=greedy.count)     # an EOS the beams really meet
    two = [frequent, greedy[0]]
    settings = [(2, 1.0, False, [frequent]), (3, 1.0, False, two), (3, -0.5, False, [frequent]),
                (3, 2.0, True, [frequent]), (2, 1.0, True, two), (3, 2.0, "never", [frequent]),
                (3, -0.5, "never", two), (4, 0.0, False, [frequent])]
    for num_beams, lp, early, eos in settings:
        hf = llama.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=8,
                            do_sample=False, num_beams=num_beams, length_penalty=lp,
                            early_stopping=early, eos_token_id=eos, pad_token_id=eos[0])
        ours = dec.beam_search(llama, x, 8, num_beams=num_beams, length_penalty=lp,
                               early_stopping=early, eos_token_id=eos)
        assert torch.equal(ours.ids, hf), (num_beams, lp, early, eos)
    out = dec.beam_search(llama, x, 6, num_beams=2, use_cache=False)
    assert torch.equal(out.ids, dec.beam_search(llama, x, 6, num_beams=2).ids)


def test_beam_search_properties_on_the_books_gpt(gpt):
    x = torch.tensor([[3, 5]])
    assert torch.equal(dec.beam_search(gpt, x, 5, num_beams=1).ids,
                       gpt.generate(x, 5, temperature=0))
    # with as many beams as sequences, beam search finds the most likely one exactly
    V = gpt.config.vocab_size
    best, best_seq = -math.inf, None
    with torch.no_grad():
        for a, b in itertools.product(range(V), repeat=2):
            seq = torch.tensor([[3, 5, a, b]])
            logp = torch.log_softmax(gpt(seq[:, :-1]).float(), dim=-1)[0, -2:]
            score = float(logp[0, a] + logp[1, b])
            best, best_seq = (score, seq) if score > best else (best, best_seq)
    out = dec.beam_search(gpt, x, 2, num_beams=V * V)
    assert torch.equal(out.ids, best_seq) and abs(out.score - best / 2) < 1e-5
    assert [s for s, _ in out.finished] == sorted((s for s, _ in out.finished), reverse=True)


def test_the_books_gpt_through_its_own_path(gpt):
    x = torch.randint(23, (2, 4), generator=torch.Generator().manual_seed(0))
    for use_cache in (True, False):
        assert torch.equal(dec.generate(gpt, x, 30, use_cache=use_cache),
                           gpt.generate(x, 30, temperature=0))
        ours = dec.generate(gpt, x, 20, do_sample=True, temperature=0.8, top_k=5,
                            use_cache=use_cache, generator=torch.Generator().manual_seed(7))
        assert torch.equal(ours, gpt.generate(x, 20, temperature=0.8, top_k=5, seed=7))
    plain = dec.generate(lambda ids: gpt(ids), x, 10, use_cache=False)
    assert torch.equal(plain, gpt.generate(x, 10, temperature=0))
    long = dec.generate(gpt, x, 80, use_cache=False)          # crops, like GPT.generate
    assert torch.equal(long, gpt.generate(x, 80, temperature=0))


def test_batched_left_padding_equals_one_by_one(gpt, llama):
    prompts = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    for model, pad in ((gpt, 0), (llama, 1)):
        ids, mask = dec.left_pad(prompts, pad)
        assert mask.tolist()[1] == [0, 0, 0, 1, 1] and ids[1, :3].tolist() == [pad] * 3
        for use_cache in (True, False):
            batched = dec.generate(model, ids, 12, attention_mask=mask, pad_token_id=pad,
                                   use_cache=use_cache)
            for row, p in enumerate(prompts):
                alone = dec.generate(model, torch.tensor([p]), 12)
                assert batched[row, ids.size(1) - len(p):].tolist() == alone[0].tolist()
    hf = llama.generate(ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                        pad_token_id=1, eos_token_id=None)
    assert torch.equal(dec.generate(llama, ids, 12, attention_mask=mask, pad_token_id=1), hf)


class _Letters:
    """A tokenizer stand-in: id i is the letter chr(97 + i % 26)."""

    def decode(self, ids):
        return "".join(chr(97 + int(i) % 26) for i in ids)


def test_stop_conditions(gpt):
    x = torch.tensor([[3, 5], [7, 2]])
    free = dec.generate(gpt, x, 12)
    new = free[:, 2:]
    eos = int(new[0, 3])
    out = dec.generate(gpt, x, 12, eos_token_id=eos, pad_token_id=22)
    stop = (new[0] == eos).nonzero()[0, 0].item()
    assert out[0, 2:2 + stop + 1].tolist() == new[0, :stop + 1].tolist()
    assert (out[0, 2 + stop + 1:] == 22).all() or out.size(1) == 2 + stop + 1
    seq = new[1, 4:6].tolist()
    out = dec.generate(gpt, x[1:], 12, stop_sequences=[seq])
    assert out[0, -2:].tolist() == seq and out.size(1) <= 2 + 6
    text = _Letters().decode(new[0])
    target = text[2:5]
    first = next(n for n in range(1, 13) if target in text[:n])   # tokens until it appears
    out = dec.generate(gpt, x[:1], 12, stop_strings=[target], tokenizer=_Letters())
    assert out.size(1) == 2 + first


def test_kv_cache_sizes_match_the_formula(gpt, llama):
    lm = dec.CausalLM(gpt)
    lm.start(torch.zeros(3, 7, dtype=torch.long), torch.ones(3, 7, dtype=torch.long))
    assert isinstance(lm.cache, KVCache) and lm.cache.length == 7
    assert dec.kv_cache_bytes(lm.cache) == dec.kv_cache_size(2, 2, 16, 7, batch=3) == \
        2 * 2 * 3 * 2 * 16 * 7 * 4
    lm = dec.CausalLM(llama)
    lm.start(torch.ones(2, 9, dtype=torch.long), torch.ones(2, 9, dtype=torch.long))
    lm.step(torch.ones(2, 1, dtype=torch.long))
    assert dec.kv_cache_bytes(lm.cache) == dec.kv_cache_size(2, 2, 8, 10, batch=2)
    legacy = ((torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4)),)
    assert dec.kv_cache_bytes(legacy) == 2 * 24 * 4


def test_timings_and_throughput_report_their_fields(gpt):
    x = torch.tensor([[1, 2, 3]])
    timings = dec.time_kv_cache(gpt, x, (4, 20), full_runs_up_to=4, probes=3, progress=False)
    assert [r["new_tokens"] for r in timings["runs"]] == [4, 20]
    assert [r["timed"] for r in timings["runs"]] == [True, False]
    assert all(r["speedup"] > 0 and r["cached_s"] > 0 for r in timings["runs"])
    assert timings["steps"]["length"] == [3, 12, 22]
    rows = dec.batch_throughput(gpt, [[1, 2], [3]], (1, 3), 4, progress=False)
    assert [r["batch_size"] for r in rows] == [1, 3]
    assert all(r["tokens_per_second"] > 0 for r in rows)


def test_errors(gpt, llama):
    x = torch.tensor([[1, 2]])
    logits = torch.zeros(1, 5)
    for call in (lambda: dec.top_p_filter(logits, 0.0), lambda: dec.top_p_filter(logits, 1.5),
                 lambda: dec.top_k_filter(logits, 0), lambda: dec.temperature_scale(logits, 0),
                 lambda: dec.temperature_scale(logits, -1.0),
                 lambda: dec.apply_repetition_penalty(logits, x, 0.0),
                 lambda: dec.generate(gpt, torch.tensor([1, 2]), 3),
                 lambda: dec.generate(gpt, x, 0),
                 lambda: dec.generate(gpt, x, 3, top_k=0),
                 lambda: dec.generate(gpt, x, 3, top_p=0),
                 lambda: dec.generate(gpt, x, 3, temperature=0.0),
                 lambda: dec.generate(gpt, x, 63),                  # > block_size, cached
                 lambda: dec.generate(gpt, x, 3, attention_mask=torch.tensor([[1, 0]])),
                 lambda: dec.generate(gpt, x, 3, attention_mask=torch.tensor([[2, 1]])),
                 lambda: dec.generate(gpt, x, 3, stop_strings=["a"]),
                 lambda: dec.generate(gpt, x, 3, stop_sequences=[[]]),
                 lambda: dec.generate(lambda i: gpt(i), x, 3, use_cache=True),  # none
                 lambda: dec.generate(lambda i: gpt(i), torch.tensor([[0, 1]]), 3,
                                      attention_mask=torch.tensor([[0, 1]]), use_cache=False),
                 lambda: dec.generate(lambda i: i, x, 3, use_cache=False),  # not logits
                 lambda: dec.beam_search(gpt, x, 3, num_beams=0),
                 lambda: dec.beam_search(gpt, torch.tensor([[1], [2]]), 3, num_beams=2),
                 lambda: dec.beam_search(gpt, x, 3, num_beams=2, early_stopping="soon"),
                 lambda: dec.left_pad([[1], []], 0), lambda: dec.kv_cache_size(2, 0, 4, 5)):
        with pytest.raises(ValueError):
            call()
    for call in (lambda: dec.generate(gpt, x.float(), 3),
                 lambda: dec.top_p_filter(torch.zeros(3, dtype=torch.long), 0.5),
                 lambda: dec.CausalLM(3), lambda: dec.kv_cache_bytes(3),
                 lambda: dec.CausalLM(gpt, use_cache=1)):
        with pytest.raises(TypeError):
            call()
    with pytest.raises(ValueError, match="block_size"):
        dec.beam_search(gpt, x, 63, num_beams=2)
    assert dec.generate(gpt, x, 63, use_cache=False).shape == (1, 65)    # crops instead


def test_smollm2_greedy_and_beam_equal_generate():
    from llmbook.resources import load_smollm2

    model, tok = load_smollm2(verbose=False)
    text = tok.apply_chat_template([{"role": "user", "content": "Name a colour."}],
                                   tokenize=False, add_generation_prompt=True)
    enc = tok(text, return_tensors="pt")
    hf = model.generate(**enc, max_new_tokens=4, do_sample=False)
    assert torch.equal(dec.generate(model, enc.input_ids, 4, eos_token_id=2), hf)
    hf = model.generate(**enc, max_new_tokens=3, do_sample=False, num_beams=2)
    assert torch.equal(dec.beam_search(model, enc.input_ids, 3, num_beams=2,
                                       eos_token_id=2).ids, hf)
