"""A small OpenAI-compatible HTTP server for a Hugging Face causal LM, and a stdlib client.

Endpoints, in OpenAI's request and response formats: ``GET /v1/models``,
``POST /v1/completions`` (a prompt) and ``POST /v1/chat/completions`` (messages, rendered by
the tokenizer's chat template); ``"stream": true`` answers with server-sent events, one
``data: {chunk}`` per piece of text, ending with ``data: [DONE]``.

* :func:`create_app` -- the FastAPI application;
* :func:`serve` -- runs it with uvicorn in a background thread, bound to 127.0.0.1 on a free
  port: ``with serve(model, tokenizer) as server: ... server.url``; leaving the block (or the
  interpreter exiting) stops it, joins the thread and releases the port;
* :func:`request_json`, :func:`stream_events` -- a client written with ``urllib`` only.

The model runs one request at a time: a lock serialises every use of the model and the
tokenizer (neither is safe to call from several threads at once), so concurrent clients
queue and each gets its own answer. A bad request is answered with a 4xx status and a JSON
body in OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.
Generation is the model's ``generate``; ``temperature: 0`` is greedy, hence deterministic.
"""

import atexit
import json
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref
from typing import Any, Iterator

__all__ = ["APIError", "create_app", "Server", "serve", "request_json", "stream_events"]

_ROLES = ("system", "user", "assistant")


class APIError(Exception):
    """An error answered to the client: an HTTP status and OpenAI's error object."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (status, message, type,
                                                                       param, code)

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


def _bad(message: str, param: str | None = None, code: str = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def _value(body: dict, name: str, default: Any, kind: type, low: float | None = None,
           high: float | None = None, low_open: bool = False) -> Any:
    """``body[name]`` checked to be an int (``kind=int``) or a number in ``[low, high]``."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float)):
        raise _bad(f"{name} must be {'an integer' if kind is int else 'a number'}, got "
                   f"{type(value).__name__}.", name, "invalid_type")
    if low is not None and (value < low or value > high or (low_open and value == low)):
        raise _bad(f"{name} must be in {'(' if low_open else '['}{low}, {high}], got {value}.",
                   name)
    return kind(value)


class _Engine:
    """The model, its tokenizer and the lock that serialises their use."""

    def __init__(self, model: Any, tokenizer: Any, model_name: str, max_tokens_limit: int,
                 context_length: int) -> None:
        self.model, self.tokenizer, self.model_name = model, tokenizer, model_name
        self.max_tokens_limit, self.context_length = max_tokens_limit, context_length
        self.lock = threading.Lock()
        eos = getattr(model.generation_config, "eos_token_id", None)
        eos = eos if isinstance(eos, list) else [eos]
        self.eos = {t for t in [*eos, tokenizer.eos_token_id] if t is not None}
        pad = tokenizer.pad_token_id
        self.pad = pad if pad is not None else min(self.eos, default=0)

    # -- requests -> token ids and generation settings ------------------------------------
    def parse(self, body: object, chat: bool) -> tuple[list[int], dict]:
        if not isinstance(body, dict):
            raise _bad("the request body must be a JSON object.", None, "invalid_type")
        model = body.get("model")
        if model is None:
            raise _bad("you must provide a model parameter.", "model", "missing_required_field")
        if not isinstance(model, str):
            raise _bad(f"model must be a string, got {type(model).__name__}.", "model",
                       "invalid_type")
        if model != self.model_name:
            raise APIError(404, f"The model `{model}` does not exist; this server serves "
                                f"`{self.model_name}` (GET /v1/models).", param="model",
                           code="model_not_found")
        if _value(body, "n", 1, int) != 1:
            raise _bad("only n=1 is supported.", "n")
        if body.get("stop") is not None:
            raise _bad("stop sequences are not supported by this server.", "stop",
                       "unsupported_parameter")
        ids = self._chat_ids(body) if chat else self._prompt_ids(body)
        name = "max_completion_tokens" if chat and "max_completion_tokens" in body \
            else "max_tokens"
        max_tokens = _value(body, name, 16, int)
        if not 1 <= max_tokens <= self.max_tokens_limit:
            raise _bad(f"{name} must be at least 1, got {max_tokens}." if max_tokens < 1 else
                       f"{name} is too large: {max_tokens}. This server generates at most "
                       f"{self.max_tokens_limit} tokens per request.", name)
        if len(ids) + max_tokens > self.context_length:
            raise _bad(f"this model's maximum context length is {self.context_length} tokens; "
                       f"the request has {len(ids)} prompt tokens + {max_tokens} to generate.",
                       "messages" if chat else "prompt", "context_length_exceeded")
        if not isinstance(stream := body.get("stream", False), bool):
            raise _bad("stream must be true or false.", "stream", "invalid_type")
        options = body.get("stream_options") or {}
        if not isinstance(options, dict) or not isinstance(options.get("include_usage", False),
                                                           bool):
            raise _bad("stream_options must be an object like {\"include_usage\": true}.",
                       "stream_options", "invalid_type")
        return ids, {"max_tokens": max_tokens, "stream": stream,
                     "include_usage": options.get("include_usage", False),
                     "temperature": _value(body, "temperature", 1.0, float, 0.0, 2.0),
                     "top_p": _value(body, "top_p", 1.0, float, 0.0, 1.0, True),
                     "seed": _value(body, "seed", None, int, 0, 2 ** 63 - 1)}

    def _prompt_ids(self, body: dict) -> list[int]:
        prompt = body.get("prompt")
        if prompt is None:
            raise _bad("you must provide a prompt parameter.", "prompt",
                       "missing_required_field")
        if not isinstance(prompt, str):
            raise _bad(f"prompt must be a string (lists of prompts are not supported), got "
                       f"{type(prompt).__name__}.", "prompt", "invalid_type")
        with self.lock:
            ids = self.tokenizer(prompt).input_ids
        if not ids:
            raise _bad("prompt is empty: give the model some text to continue.", "prompt")
        return ids

    def _chat_ids(self, body: dict) -> list[int]:
        messages = body.get("messages")
        if messages is None:
            raise _bad("you must provide a messages parameter.", "messages",
                       "missing_required_field")
        if not isinstance(messages, list):
            raise _bad("messages must be a list of {\"role\", \"content\"} objects.",
                       "messages", "invalid_type")
        if not messages:
            raise _bad("messages is empty: send at least one message.", "messages")
        clean = []
        for i, message in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(message, dict):
                raise _bad(f"{where} must be an object with role and content.", where,
                           "invalid_type")
            role, content = message.get("role"), message.get("content")
            if role not in _ROLES:
                raise _bad(f"{where}.role must be one of {', '.join(_ROLES)}, got {role!r}.",
                           f"{where}.role")
            if not isinstance(content, str):
                raise _bad(f"{where}.content must be a string.", f"{where}.content",
                           "invalid_type")
            clean.append({"role": role, "content": content})
        with self.lock:
            text = self.tokenizer.apply_chat_template(clean, tokenize=False,
                                                      add_generation_prompt=True)
            return self.tokenizer(text, add_special_tokens=False).input_ids

    # -- generation -----------------------------------------------------------------------
    def _generate(self, ids: list[int], params: dict, **extra: Any) -> list[int]:
        """Run ``generate`` under the lock; the new token ids."""
        import torch
        from transformers import GenerationConfig

        sample = params["temperature"] > 0
        config = GenerationConfig(max_new_tokens=params["max_tokens"], do_sample=sample,
                                  eos_token_id=sorted(self.eos), pad_token_id=self.pad,
                                  **({"temperature": params["temperature"],
                                      "top_p": params["top_p"], "top_k": 0} if sample else {}))
        device = next(self.model.parameters()).device
        input_ids = torch.tensor([ids], device=device)
        with self.lock, torch.no_grad(), torch.random.fork_rng(devices=[]):
            if params["seed"] is not None:
                torch.manual_seed(params["seed"])
            out = self.model.generate(input_ids, attention_mask=torch.ones_like(input_ids),
                                      generation_config=config, **extra)
        return out[0, len(ids):].tolist()

    def finish_reason(self, new_ids: list[int]) -> str:
        return "stop" if new_ids and new_ids[-1] in self.eos else "length"

    def complete(self, ids: list[int], params: dict) -> tuple[str, list[int]]:
        new_ids = self._generate(ids, params)
        with self.lock:
            text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        return text, new_ids

    def stream(self, ids: list[int], params: dict, result: dict) -> Iterator[str]:
        """Pieces of text as they are generated; ``result['ids']`` (or ``'error'``) at the end."""
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancel = threading.Event()

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                import torch
                return torch.full((input_ids.shape[0],), cancel.is_set(), dtype=torch.bool)

        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True,
                                        skip_special_tokens=True)

        def work() -> None:
            try:
                result["ids"] = self._generate(ids, params, streamer=streamer,
                                               stopping_criteria=StoppingCriteriaList(
                                                   [Cancelled()]))
            except Exception as error:  # noqa: BLE001 - reported to the client as an event
                result["error"] = error
                streamer.end()

        worker = threading.Thread(target=work, name="llmbook-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:                     # also when the client goes away mid-stream
            cancel.set()
            if worker is not threading.current_thread():   # closed by garbage collection
                worker.join()


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _sse(data: object) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def create_app(model: Any, tokenizer: Any, *, model_name: str = "llmbook-model",
               max_tokens_limit: int = 256, context_length: int | None = None) -> Any:
    """The FastAPI application serving ``model`` under the name ``model_name``.

    ``max_tokens_limit`` is the most tokens one request may ask for; ``context_length``
    (default: the model's ``max_position_embeddings``) bounds prompt + completion.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    if not callable(getattr(model, "generate", None)) or not hasattr(model, "config"):
        raise TypeError(f"model must be a Hugging Face causal LM (with .generate and .config), "
                        f"got {type(model).__name__}.")
    if not callable(getattr(tokenizer, "apply_chat_template", None)):
        raise TypeError(f"tokenizer must be a Hugging Face tokenizer, got "
                        f"{type(tokenizer).__name__}.")
    if not isinstance(model_name, str) or not model_name.strip():
        raise ValueError(f"model_name must be a non-empty string, got {model_name!r}.")
    if context_length is None:
        context_length = getattr(model.config, "max_position_embeddings", None) or 2048
    for name, value in (("max_tokens_limit", max_tokens_limit), ("context_length", context_length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    engine = _Engine(model, tokenizer, model_name, max_tokens_limit, context_length)
    created = int(time.time())
    app = FastAPI(title=f"llmbook OpenAI-compatible server: {model_name}", openapi_url=None,
                  docs_url=None, redoc_url=None)
    app.state.engine = engine

    @app.exception_handler(APIError)
    async def api_error(request: Request, error: APIError) -> JSONResponse:
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        code = {404: "unknown_url", 405: "method_not_allowed"}.get(error.status_code)
        message = (f"Unknown request URL: {request.method} {request.url.path}."
                   if error.status_code in (404, 405) else str(error.detail))
        return JSONResponse(APIError(error.status_code, message, code=code).body(),
                            status_code=error.status_code)

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> JSONResponse:
        body = APIError(500, f"the server failed: {type(error).__name__}: {error}",
                        type="server_error").body()
        return JSONResponse(body, status_code=500)

    async def read(request: Request, chat: bool) -> tuple[list[int], dict]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _bad(f"We could not parse the JSON body of your request ({error}). The "
                       f"body must be JSON, e.g. {{\"model\": \"{model_name}\", ...}}.",
                       None, "invalid_json") from None
        return await run_in_threadpool(engine.parse, body, chat)

    async def respond(request: Request, chat: bool) -> Any:
        ids, params = await read(request, chat)
        obj = "chat.completion" if chat else "text_completion"
        chunk = obj + ".chunk" if chat else obj
        head = {"id": ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24],
                "object": obj, "created": int(time.time()), "model": model_name}
        if not params["stream"]:
            text, new = await run_in_threadpool(engine.complete, ids, params)
            reason = engine.finish_reason(new)
            choice = ({"index": 0, "message": {"role": "assistant", "content": text},
                       "finish_reason": reason} if chat else
                      {"text": text, "index": 0, "logprobs": None, "finish_reason": reason})
            return JSONResponse({**head, "choices": [choice], "usage": _usage(len(ids), len(new))})

        def piece(text: str | None, reason: str | None = None, role: bool = False) -> str:
            if chat:
                delta = ({"role": "assistant", "content": ""} if role else
                         {} if text is None else {"content": text})
                choice = {"index": 0, "delta": delta, "finish_reason": reason}
            else:
                choice = {"text": text or "", "index": 0, "logprobs": None,
                          "finish_reason": reason}
            return _sse({**head, "object": chunk, "choices": [choice]})

        def events() -> Iterator[str]:
            result: dict = {}
            if chat:
                yield piece(None, role=True)
            for text in engine.stream(ids, params, result):
                yield piece(text)
            if "error" in result:
                yield _sse(APIError(500, f"generation failed: {result['error']}",
                                    type="server_error").body())
            else:
                yield piece(None, engine.finish_reason(result["ids"]))
                if params["include_usage"]:
                    yield _sse({**head, "object": chunk, "choices": [],
                                "usage": _usage(len(ids), len(result["ids"]))})
            yield _sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": model_name, "object": "model",
                                            "created": created, "owned_by": "llmbook"}]}

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await respond(request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        return await respond(request, chat=True)

    return app


class Server:
    """A uvicorn server running ``app`` in a daemon thread; a context manager.

    :meth:`start` binds ``host:port`` (port 0: a free one) and returns once the server
    accepts connections; :meth:`stop` asks it to finish, joins the thread and closes the
    socket. A server still running when the interpreter exits is stopped then.
    """

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 start_timeout: float = 30.0) -> None:
        if not isinstance(host, str) or not host:
            raise TypeError(f"host must be an address such as '127.0.0.1', got {host!r}.")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in [0, 65535] (0: a free port), got {port!r}.")
        self.app, self.host, self.port, self.start_timeout = app, host, port, start_timeout
        self._server = self._thread = self._socket = self._at_exit = None

    @property
    def url(self) -> str:
        """``http://host:port``, the base URL (the endpoints are under ``/v1``)."""
        if self._socket is None:
            raise RuntimeError("the server is not running: call start() or use `with`.")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "Server":
        import uvicorn

        if self.running:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own bind
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise OSError(f"cannot listen on {self.host}:{self.port} ({error}); pass port=0 "
                          f"for a free port.") from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_config=None, log_level="warning",
                                access_log=False, loop="asyncio", http="h11", lifespan="off",
                                timeout_graceful_shutdown=5)
        self._server, self._socket = uvicorn.Server(config), sock
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"llmbook-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server on port {self.port} did not start.")
            time.sleep(0.01)
        ref = weakref.ref(self)      # the exit hook must not keep the server alive
        self._at_exit = lambda: ref() is not None and ref().stop()
        atexit.register(self._at_exit)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, join the thread and release the port (does nothing if stopped)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        if self._at_exit is not None:
            atexit.unregister(self._at_exit)
        self._server = self._thread = self._socket = self._at_exit = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Server({f'running at {self.url}' if self.running else 'stopped'})"


def serve(model: Any, tokenizer: Any, *, model_name: str = "llmbook-model",
          host: str = "127.0.0.1", port: int = 0, max_tokens_limit: int = 256,
          context_length: int | None = None) -> Server:
    """Start serving ``model`` (see :func:`create_app`) in the background; the started
    :class:`Server`, to use as ``with serve(model, tokenizer) as server: ...``."""
    app = create_app(model, tokenizer, model_name=model_name,
                     max_tokens_limit=max_tokens_limit, context_length=context_length)
    return Server(app, host=host, port=port).start()


def _request(url: str, payload: object, method: str | None) -> urllib.request.Request:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"url must be an http(s) URL such as server.url + '/v1/models', "
                         f"got {url!r}.")
    if payload is not None and not isinstance(payload, (dict, bytes)):
        raise TypeError(f"payload must be a dict (sent as JSON), raw bytes or None, got "
                        f"{type(payload).__name__}.")
    data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    return urllib.request.Request(url, data=data, method=method,
                                  headers={"Content-Type": "application/json"})


def request_json(url: str, payload: dict | bytes | None = None, *, method: str | None = None,
                 timeout: float = 120.0) -> tuple[int, dict]:
    """Send one request (GET without ``payload``, POST with it) and return ``(status,
    body)``, the body parsed from JSON; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(_request(url, payload, method), timeout=timeout) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def stream_events(url: str, payload: dict, *, timeout: float = 120.0) -> Iterator[dict]:
    """POST ``payload`` with ``"stream": true`` and yield each server-sent event's JSON as
    it arrives, until ``data: [DONE]``. An error status raises :class:`APIError`."""
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}.")
    try:
        reply = urllib.request.urlopen(_request(url, {**payload, "stream": True}, None),
                                       timeout=timeout)
    except urllib.error.HTTPError as error:
        with error:
            body = json.loads(error.read()).get("error", {})
        raise APIError(error.code, body.get("message", ""), type=body.get("type", ""),
                       param=body.get("param"), code=body.get("code")) from None
    with reply:
        for line in reply:
            line = line.decode().strip()
            if line == "data: [DONE]":
                return
            if line.startswith("data:"):
                yield json.loads(line[len("data:"):])
