"""Tests of llmbook.serving: the OpenAI-compatible server, on a tiny random Llama with
SmolLM2's tokenizer (fast), checked against the model's own ``generate``."""

import json
import socket
import threading
import urllib.request

import pytest
import torch

from llmbook import serving
from llmbook.serving import APIError, Server, create_app, request_json, serve, stream_events

NAME = "tiny"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from llmbook.resources import ensure_smollm2_cache
    return AutoTokenizer.from_pretrained(ensure_smollm2_cache(verbose=False))


def _tiny(tokenizer, seed=0, **extra):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=256, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, **extra)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def model(tokenizer):
    return _tiny(tokenizer)


@pytest.fixture(scope="module")
def server(model, tokenizer):
    with serve(model, tokenizer, model_name=NAME, max_tokens_limit=32) as running:
        yield running


def _greedy(model, ids, n):
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                                                            dtype=torch.long),
                             do_sample=False, max_new_tokens=n,
                             pad_token_id=model.config.pad_token_id)
    return out[0, len(ids):].tolist()


def _chat_ids(tokenizer, messages):
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False).input_ids


def test_models_lists_the_served_model(server):
    status, body = request_json(server.url + "/v1/models")
    assert status == 200 and body["object"] == "list"
    assert [m["id"] for m in body["data"]] == [NAME] and body["data"][0]["object"] == "model"


def test_completion_is_greedy_generate_and_counts_tokens(server, model, tokenizer):
    payload = {"model": NAME, "prompt": "The king said", "max_tokens": 7, "temperature": 0}
    status, body = request_json(server.url + "/v1/completions", payload)
    assert status == 200 and body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-") and body["model"] == NAME
    ids = tokenizer("The king said").input_ids
    expected = _greedy(model, ids, 7)
    (choice,) = body["choices"]
    assert choice["text"] == tokenizer.decode(expected, skip_special_tokens=True)
    assert choice["finish_reason"] == "length" and choice["index"] == 0
    assert body["usage"] == {"prompt_tokens": len(ids), "completion_tokens": 7,
                             "total_tokens": len(ids) + 7}
    again = request_json(server.url + "/v1/completions", payload)[1]
    assert again["choices"] == body["choices"]                      # deterministic


def test_chat_uses_the_chat_template(server, model, tokenizer):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
    status, body = request_json(server.url + "/v1/chat/completions",
                                {"model": NAME, "messages": messages, "max_tokens": 5,
                                 "temperature": 0})
    assert status == 200 and body["object"] == "chat.completion"
    ids = _chat_ids(tokenizer, messages)
    message = body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": tokenizer.decode(
        _greedy(model, ids, 5), skip_special_tokens=True)}
    assert body["usage"]["prompt_tokens"] == len(ids) and body["usage"]["completion_tokens"] == 5
    # max_completion_tokens is OpenAI's newer name for the same limit
    body = request_json(server.url + "/v1/chat/completions",
                        {"model": NAME, "messages": messages, "max_completion_tokens": 3,
                         "temperature": 0})[1]
    assert body["usage"]["completion_tokens"] == 3


def test_stream_sends_chunks_then_done(server, model, tokenizer):
    messages = [{"role": "user", "content": "Tell me a story."}]
    payload = {"model": NAME, "messages": messages, "max_tokens": 12, "temperature": 0,
               "stream": True, "stream_options": {"include_usage": True}}
    request = urllib.request.Request(server.url + "/v1/chat/completions",
                                     data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        raw = reply.read().decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "length"}
    assert chunks[-1]["choices"] == []
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[1:-1])
    whole = request_json(server.url + "/v1/chat/completions", {**payload, "stream": False})[1]
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"] == whole["usage"]


def test_stream_of_a_completion_with_the_client(server):
    payload = {"model": NAME, "prompt": "Once upon a time", "max_tokens": 6, "temperature": 0}
    chunks = list(stream_events(server.url + "/v1/completions", payload))
    assert all(c["object"] == "text_completion" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert "usage" not in chunks[-1]                     # only with include_usage
    whole = request_json(server.url + "/v1/completions", payload)[1]
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole["choices"][0]["text"]


def test_sampling_with_a_seed_is_reproducible(server):
    payload = {"model": NAME, "prompt": "Hello", "max_tokens": 8, "temperature": 1.0,
               "top_p": 0.9, "seed": 3}
    first, second = (request_json(server.url + "/v1/completions", payload)[1]
                     for _ in range(2))
    assert first["choices"][0]["text"] == second["choices"][0]["text"]
    others = {request_json(server.url + "/v1/completions", {**payload, "seed": s})[1]
              ["choices"][0]["text"] for s in range(4, 8)}
    assert len(others | {first["choices"][0]["text"]}) > 1


def test_finish_reason_stop_counts_the_stop_token(tokenizer):
    # A model whose every logit is 0 picks token 0 greedily; make that its stop token.
    model = _tiny(tokenizer)
    model.model.norm.weight.data.zero_()
    model.generation_config.eos_token_id = [0, tokenizer.eos_token_id]
    with serve(model, tokenizer, model_name=NAME) as running:
        body = request_json(running.url + "/v1/completions",
                            {"model": NAME, "prompt": "Hi", "max_tokens": 10,
                             "temperature": 0})[1]
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 1


def test_concurrent_clients_get_their_own_answers(server, model, tokenizer):
    prompts = ["To be", "Friends, Romans", "Now is the winter", "All the world",
               "Double, double"]
    expected = {p: tokenizer.decode(_greedy(model, tokenizer(p).input_ids, 10),
                                    skip_special_tokens=True) for p in prompts}
    got, errors = {}, []

    def client(prompt, stream):
        try:
            payload = {"model": NAME, "prompt": prompt, "max_tokens": 10, "temperature": 0}
            if stream:
                got[prompt] = "".join(c["choices"][0]["text"] for c in
                                      stream_events(server.url + "/v1/completions", payload))
            else:
                got[prompt] = request_json(server.url + "/v1/completions",
                                           payload)[1]["choices"][0]["text"]
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(p, i % 2 == 1))
               for i, p in enumerate(prompts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and got == expected


def _messages(**fields):
    return {"model": NAME, "messages": [{"role": "user", "content": "Hi"}], **fields}


BAD = [
    ("/v1/completions", {"prompt": "x"}, 400, "model", "missing_required_field"),
    ("/v1/completions", {"model": 3, "prompt": "x"}, 400, "model", "invalid_type"),
    ("/v1/completions", {"model": "gpt-4", "prompt": "x"}, 404, "model", "model_not_found"),
    ("/v1/completions", {"model": NAME}, 400, "prompt", "missing_required_field"),
    ("/v1/completions", {"model": NAME, "prompt": ["a", "b"]}, 400, "prompt", "invalid_type"),
    ("/v1/completions", {"model": NAME, "prompt": ""}, 400, "prompt", "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "max_tokens": 0}, 400, "max_tokens",
     "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "max_tokens": 33}, 400, "max_tokens",
     "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "max_tokens": "5"}, 400, "max_tokens",
     "invalid_type"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "max_tokens": 2.5}, 400, "max_tokens",
     "invalid_type"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "temperature": -1}, 400, "temperature",
     "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "temperature": "hot"}, 400,
     "temperature", "invalid_type"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "top_p": 0}, 400, "top_p",
     "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "stream": "yes"}, 400, "stream",
     "invalid_type"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "n": 2}, 400, "n", "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "seed": 2 ** 70}, 400, "seed",
     "invalid_value"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "seed": "1"}, 400, "seed",
     "invalid_type"),
    ("/v1/completions", {"model": NAME, "prompt": "x", "stop": ["\n"]}, 400, "stop",
     "unsupported_parameter"),
    ("/v1/completions", {"model": NAME, "prompt": "word " * 250, "max_tokens": 10}, 400,
     "prompt", "context_length_exceeded"),
    ("/v1/chat/completions", {"model": NAME}, 400, "messages", "missing_required_field"),
    ("/v1/chat/completions", {"model": NAME, "messages": []}, 400, "messages",
     "invalid_value"),
    ("/v1/chat/completions", {"model": NAME, "messages": "Hi"}, 400, "messages",
     "invalid_type"),
    ("/v1/chat/completions", {"model": NAME, "messages": ["Hi"]}, 400, "messages[0]",
     "invalid_type"),
    ("/v1/chat/completions", {"model": NAME, "messages": [{"role": "robot", "content": "x"}]},
     400, "messages[0].role", "invalid_value"),
    ("/v1/chat/completions", {"model": NAME, "messages": [{"role": "user", "content": 5}]},
     400, "messages[0].content", "invalid_type"),
    ("/v1/chat/completions", _messages(max_completion_tokens=-3), 400,
     "max_completion_tokens", "invalid_value"),
    ("/v1/chat/completions", _messages(stream=True, stream_options=[1]), 400,
     "stream_options", "invalid_type"),
    ("/v1/completions", b"{not json", 400, None, "invalid_json"),
    ("/v1/completions", b"\xff\xfe", 400, None, "invalid_json"),
    ("/v1/completions", b"[1, 2]", 400, None, "invalid_type"),
    ("/v1/engines", {"model": NAME}, 404, None, "unknown_url"),
]


@pytest.mark.parametrize("path,payload,status,param,code", BAD,
                         ids=[f"{i}-{b[3]}-{b[4]}" for i, b in enumerate(BAD)])
def test_bad_requests_get_openai_errors(server, path, payload, status, param, code):
    got, body = request_json(server.url + path, payload)
    assert got == status
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["message"]
    assert (error["param"], error["code"]) == (param, code)


def test_wrong_method_and_the_server_survives_bad_requests(server):
    status, body = request_json(server.url + "/v1/completions")          # GET
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    with pytest.raises(APIError) as caught:
        list(stream_events(server.url + "/v1/completions", {"model": "nope", "prompt": "x"}))
    assert caught.value.status == 404 and caught.value.code == "model_not_found"
    assert request_json(server.url + "/v1/models")[0] == 200


def test_stop_joins_the_thread_and_releases_the_port(model, tokenizer):
    with serve(model, tokenizer, model_name=NAME) as running:
        port, thread = running.port, running._thread
        assert running.running and thread.is_alive() and f":{port}" in running.url
        assert request_json(running.url + "/v1/models")[0] == 200
    assert not running.running and not thread.is_alive()
    assert repr(running) == "Server(stopped)"
    with pytest.raises(RuntimeError, match="not running"):
        running.url
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # TIME_WAIT is not in use
    probe.bind(("127.0.0.1", port))
    probe.listen()                                # nothing else listens there any more
    probe.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    running.stop()                                # stopping twice is harmless


def test_a_client_leaving_mid_stream_frees_the_model(server):
    payload = {"model": NAME, "prompt": "Once", "max_tokens": 32, "temperature": 0,
               "stream": True}
    request = urllib.request.Request(server.url + "/v1/completions",
                                     data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    reply = urllib.request.urlopen(request, timeout=60)
    assert reply.readline().startswith(b"data: ")        # the first chunk, then hang up
    reply.close()
    status, body = request_json(server.url + "/v1/completions",
                                {**payload, "stream": False, "max_tokens": 3})
    assert status == 200 and body["usage"]["completion_tokens"] == 3


def test_the_exit_hook_stops_a_forgotten_server(model, tokenizer):
    forgotten = serve(model, tokenizer, model_name=NAME)     # no `with`
    assert forgotten.running and forgotten._at_exit is not None
    forgotten._at_exit()                                     # what atexit calls
    assert not forgotten.running and forgotten._at_exit is None


def test_start_again_and_port_in_use(model, tokenizer):
    app = create_app(model, tokenizer, model_name=NAME)
    first = Server(app).start()
    try:
        assert first.start() is first             # already running: no second server
        with pytest.raises(OSError, match="port=0"):
            Server(app, port=first.port).start()
    finally:
        first.stop()
    assert not first.running


def test_argument_errors(model, tokenizer):
    with pytest.raises(TypeError, match="causal LM"):
        create_app(torch.nn.Linear(2, 2), tokenizer)
    with pytest.raises(TypeError, match="tokenizer"):
        create_app(model, "gpt2")
    with pytest.raises(ValueError, match="model_name"):
        create_app(model, tokenizer, model_name=" ")
    with pytest.raises(ValueError, match="max_tokens_limit"):
        create_app(model, tokenizer, max_tokens_limit=0)
    with pytest.raises(ValueError, match="context_length"):
        create_app(model, tokenizer, context_length=True)
    with pytest.raises(ValueError, match="port"):
        Server(None, port=70000)
    with pytest.raises(TypeError, match="host"):
        Server(None, host="")
    with pytest.raises(ValueError, match="http"):
        request_json("localhost:8000/v1/models")
    with pytest.raises(TypeError, match="payload"):
        request_json("http://127.0.0.1:1/v1/models", payload=[1])
    with pytest.raises(TypeError, match="payload"):
        next(stream_events("http://127.0.0.1:1/v1/completions", "hello"))
    assert APIError(400, "m", param="p").body() == {
        "error": {"message": "m", "type": "invalid_request_error", "param": "p", "code": None}}
    assert set(serving.__all__) == {"APIError", "create_app", "Server", "serve",
                                    "request_json", "stream_events"}
