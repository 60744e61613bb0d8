"""llmbook.extraction_prompts: the prompts, batched option scoring (checked against one
prompt at a time on a tiny random GPT-2), and turning scores into a valid answer."""

import json

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from llmbook import extraction as ex
from llmbook import extraction_prompts as xp

WORDS = ["<pad>", "<eos>", "<unk>"] + "a b c d e f g h yes no unknown : ? .".split()


@pytest.fixture(scope="module")
def tiny():
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="<eos>",
                                  unk_token="<unk>",
                                  model_input_names=["input_ids", "attention_mask"])
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} "
                         "{% endfor %}{% if add_generation_prompt %}assistant : {% endif %}")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(WORDS), n_positions=1024, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=1, eos_token_id=1, pad_token_id=0)
    return GPT2LMHeadModel(config).eval(), tok


def test_option_logprobs_in_a_padded_batch_equal_one_prompt_at_a_time(tiny):
    model, tok = tiny
    prompts = ["a b c :", "d :", "a a b b c c d d e :"]
    options = [["yes", "no"], ["unknown", "e", "f"], ["g"]]
    batched = xp.option_logprobs(model, tok, prompts, options, batch_size=3)
    for prompt, opts, row in zip(prompts, options, batched):
        ids = tok(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            logprobs = model(ids).logits[0, -1].log_softmax(-1)
        expected = [float(logprobs[tok.convert_tokens_to_ids(o)]) for o in opts]
        assert row == pytest.approx(expected, abs=1e-5)
    assert tok.padding_side == "right"              # put back


def test_option_logprobs_bad_input(tiny):
    model, tok = tiny
    with pytest.raises(TypeError):
        xp.option_logprobs(model, tok, "a :", [["yes"]])
    with pytest.raises(ValueError, match="one list of options per prompt"):
        xp.option_logprobs(model, tok, ["a :", "b :"], [["yes"]])
    with pytest.raises(ValueError, match="non-empty list"):
        xp.option_logprobs(model, tok, ["a :"], ["yes"])
    with pytest.raises(ValueError, match="batch_size"):
        xp.option_logprobs(model, tok, ["a :"], [["yes"]], batch_size=0)


def test_json_prompt_ends_with_the_prefill(tiny):
    _, tok = tiny
    prompt = xp.json_prompt(tok, "a b c")
    assert prompt.endswith("assistant : " + xp.PREFILL)
    assert xp.EXAMPLE[1] in prompt and xp.SYSTEM in prompt
    assert xp.json_prompt(tok, "a", prefill="", example=False).endswith("assistant : ")
    assert ex.parse_extraction(xp.EXAMPLE[1], xp.EXAMPLE[0]).ok     # the example is valid
    with pytest.raises(ValueError):
        xp.json_messages("  ")
    with pytest.raises(TypeError):
        xp.json_prompt(tok, "a", prefill=None)
    with pytest.raises(TypeError):
        xp.generate_json(None, tok, "a sentence")


def test_generate_json_returns_the_prefill_and_the_continuation(tiny):
    model, tok = tiny
    answers = xp.generate_json(model, tok, ["a b", "c"], max_new_tokens=3)
    assert len(answers) == 2 and all(a.startswith(xp.PREFILL) for a in answers)


def test_questions_follow_the_types_of_the_relations():
    entities = [("Ada", "PERSON"), ("Acme", "ORGANIZATION"), ("Oslo", "PLACE")]
    qs = xp.relation_questions(entities)
    assert [(q.head, q.relation, q.tails) for q in qs] == [
        ("Ada", "born_in", ("Oslo",)), ("Ada", "works_for", ("Acme",)),
        ("Ada", "founded", ("Acme",)), ("Acme", "located_in", ("Oslo",))]
    assert xp.relation_questions([("Ada", "PERSON")]) == []
    with pytest.raises(ValueError, match="expected one of"):
        xp.relation_questions([("Ada", "AUTHOR")])
    prompt = xp.relation_prompt("Ada works for Acme.", qs[1])
    assert prompt.endswith("Sentence: Ada works for Acme.\nQuestion: Whom did Ada work for?"
                           "\nAnswer:")
    assert xp.type_prompt("Ada works for Acme.", "Acme").endswith("\nAcme:")
    with pytest.raises(ValueError):
        xp.type_prompt("Ada works.", "")
    with pytest.raises(ValueError, match="unknown relation"):
        xp.relation_prompt("x", xp.Question("Ada", "married", ("Bo",)))


def test_scores_become_a_valid_answer():
    entities = xp.entities_from_scores(["Ada", "Oslo"], [[-1, -2, -3, -4], [-3, -2, -1, -4]])
    assert entities == [("Ada", "PERSON"), ("Oslo", "PLACE")]
    q = xp.Question("Ada", "born_in", ("Oslo", "Bergen"))
    assert xp.relations_from_scores([q], [[-1.0, -3.0, -2.0]]) == [
        {"head": "Ada", "relation": "born_in", "tail": "Oslo"}]
    assert xp.relations_from_scores([q], [[-1.0, -3.0, -2.0]], margin=1.5) == []
    assert xp.relations_from_scores([q], [[-3.0, -3.0, -2.0]]) == []     # unknown wins
    data = {"entities": [{"name": n, "type": t} for n, t in entities],
            "relations": xp.relations_from_scores([q], [[-1.0, -3.0, -2.0]])}
    assert ex.parse_extraction(json.dumps(data), "Ada was born in Oslo.").ok
    with pytest.raises(ValueError, match="score rows"):
        xp.entities_from_scores(["Ada"], [])
    with pytest.raises(ValueError, match="one per type"):
        xp.entities_from_scores(["Ada"], [[0.0]])
    with pytest.raises(ValueError, match="needs 3 scores"):
        xp.relations_from_scores([q], [[0.0, 0.0]])


def test_the_record_matches_the_corpora():
    record = xp.load_record()
    for name, corpus in (("gold", ex.GOLD), ("fresh", ex.FRESH)):
        rows = record["corpora"][name]
        assert [r["sentence"] for r in rows] == [g.text for g in corpus]
        for r in rows:
            assert len(r["type_scores"]) == len(r["spans"])
            assert len(r["question_scores"]) == len(r["questions"])
    assert set(record["variants"]) == {"zero_shot", "one_shot"}
    assert all(len(v) == len(ex.GOLD) for v in record["variants"].values())
    rows = record["corpora"]["gold"]
    assert len(xp.answers_from_record(rows)) == len(rows)     # the questions follow the types
