"""llmbook.exercises.generation: the graders of 5.4 and 5.6 accept right answers and explain
the usual mistakes (the prompt kept, right padding, dropout on, gradients tracked, max_length)."""

from __future__ import annotations

import torch

from llmbook.exercises import generation as g


def _stub(*args):
    raise NotImplementedError


# --- check_new_tokens_only -------------------------------------------------------------------

def right_decode(tokenizer, input_ids, output_ids):
    return tokenizer.batch_decode(output_ids[:, input_ids.shape[1]:], skip_special_tokens=True)


def test_new_tokens_only_accepts_the_slice(capsys):
    assert g.check_new_tokens_only(right_decode)
    assert "✅" in capsys.readouterr().out


def test_new_tokens_only_explains_the_mistakes():
    whole = g.check_new_tokens_only(
        lambda tok, i, o: tok.batch_decode(o, skip_special_tokens=True))
    assert not whole and "repeat the prompt" in whole.message
    special = g.check_new_tokens_only(lambda tok, i, o: tok.batch_decode(o[:, i.shape[1]:]))
    assert not special and "skip_special_tokens=True" in special.message
    per_row = g.check_new_tokens_only(
        lambda tok, i, o: [tok.decode(r[int(n):], skip_special_tokens=True)
                           for r, n in zip(o, (i != 0).sum(1))])
    assert not per_row and "same column" in per_row.message
    one_str = g.check_new_tokens_only(lambda tok, i, o: right_decode(tok, i, o)[0])
    assert not one_str and "not a str" in one_str.message
    assert "NotImplementedError" in g.check_new_tokens_only(_stub).message
    assert not g.check_new_tokens_only("not a function")


# --- check_left_padding ----------------------------------------------------------------------

def pad_left(sequences, pad_id):
    longest = max(len(s) for s in sequences)
    ids = [[pad_id] * (longest - len(s)) + list(s) for s in sequences]
    mask = [[0] * (longest - len(s)) + [1] * len(s) for s in sequences]
    return torch.tensor(ids), torch.tensor(mask)


def test_left_padding_accepts_a_right_answer():
    assert g.check_left_padding(pad_left)
    bool_mask = g.check_left_padding(lambda s, p: (pad_left(s, p)[0], pad_left(s, p)[1].bool()))
    assert bool_mask


def test_left_padding_explains_the_mistakes():
    def pad_right(sequences, pad_id):
        longest = max(len(s) for s in sequences)
        return (torch.tensor([list(s) + [pad_id] * (longest - len(s)) for s in sequences]),
                torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in sequences]))

    right = g.check_left_padding(pad_right)
    assert not right and "on the right" in right.message
    inverted = g.check_left_padding(lambda s, p: (pad_left(s, p)[0], 1 - pad_left(s, p)[1]))
    assert not inverted and "inverted" in inverted.message
    floats = g.check_left_padding(lambda s, p: (pad_left(s, p)[0].float(), pad_left(s, p)[1]))
    assert not floats and "integers" in floats.message
    ignores_pad_id = g.check_left_padding(lambda s, p: pad_left(s, 0))
    assert not ignores_pad_id and "input_ids" in ignores_pad_id.message
    one = g.check_left_padding(lambda s, p: pad_left(s, p)[0])
    assert not one and "tuple" in one.message


# --- check_predict_logits --------------------------------------------------------------------

def test_predict_logits_accepts_eval_and_no_grad():
    def predict(model, batch):
        model.eval()
        with torch.no_grad():
            return model(**batch).logits

    assert g.check_predict_logits(predict)

    def inference(model, batch):
        model.eval()
        with torch.inference_mode():
            return model(**batch).logits

    assert g.check_predict_logits(inference)


def test_predict_logits_explains_the_mistakes():
    def no_eval(model, batch):
        with torch.no_grad():
            return model(**batch).logits

    dropout = g.check_predict_logits(no_eval)
    assert not dropout and "model.eval()" in dropout.message

    def no_grad_missing(model, batch):
        model.eval()
        return model(**batch).logits

    grads = g.check_predict_logits(no_grad_missing)
    assert not grads and "torch.no_grad()" in grads.message

    def whole_output(model, batch):
        model.eval()
        with torch.no_grad():
            return model(**batch)

    output = g.check_predict_logits(whole_output)
    assert not output and "outputs.logits" in output.message

    def ids_only(model, batch):
        model.eval()
        with torch.no_grad():
            return model(batch["input_ids"]).logits

    mask = g.check_predict_logits(ids_only)
    assert not mask and "model(**batch)" in mask.message
    assert "NotImplementedError" in g.check_predict_logits(_stub).message


# --- check_generate_reply --------------------------------------------------------------------

def reply(model, tokenizer, prompt, n):
    enc = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=n, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True)


def test_generate_reply_accepts_greedy_new_tokens(capsys):
    assert g.check_generate_reply(reply)
    assert "Warning" not in capsys.readouterr().err


def test_generate_reply_explains_the_mistakes():
    def with_prompt(model, tokenizer, prompt, n):
        enc = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=n, do_sample=False, pad_token_id=0)
        return tokenizer.decode(out[0], skip_special_tokens=True)

    prompt = g.check_generate_reply(with_prompt)
    assert not prompt and "starts with the prompt" in prompt.message

    def max_length(model, tokenizer, prompt, n):
        enc = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**enc, max_length=n, do_sample=False, pad_token_id=0)
        return tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True)

    length = g.check_generate_reply(max_length)
    assert not length and "max_new_tokens=5" in length.message

    def sampled(model, tokenizer, prompt, n):
        enc = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=n, do_sample=True, temperature=5.0,
                             top_k=0, pad_token_id=0)
        return tokenizer.decode(out[0, enc.input_ids.shape[1]:], skip_special_tokens=True)

    sample = g.check_generate_reply(sampled)
    assert not sample and ("do_sample=False" in sample.message)
    assert not g.check_generate_reply(lambda m, t, p, n: 42)
