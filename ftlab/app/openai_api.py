"""OpenAI-compatible HTTP API on the app's own server: GET /v1/models, POST /v1/chat/completions (streamed as
server-sent events or not) and POST /v1/classify.

`model` is a run id (its tuned model) or a base model id or folder (on a shared server, a Hub id or a bundled
model only). When FTLAB_API_KEY is set, every /v1 call must carry `Authorization: Bearer <key>`, else it gets 401.
Errors come in OpenAI's shape: {"error": {"message", "type", "code"}}, so the official clients raise their usual
exceptions; that includes a malformed body (400, not FastAPI's 422), a prompt over the context (400,
context_length_exceeded) and too many or too long inputs (413). A request whose client goes away stops generating.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from ftlab import tasks
from ftlab import modeling
from ftlab.serve import generation
from ftlab.app import owners, redact
from ftlab.serve.model_server import MAX_INPUTS, Busy, NotReady, PromptTooLong
from ftlab.app.lab import Lab

MAX_INPUT_CHARS = 100_000
"""Characters of one classify input: a longer one is 413 before it is tokenized."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class TextPart(BaseModel):
    """One part of OpenAI's list form of a message's content; only text parts are read."""
    type: Literal["text"]
    text: str


class Message(BaseModel):
    role: str
    content: str | list[TextPart]

    def plain(self) -> dict:
        """{role, content} with a list of text parts joined into one text."""
        content = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": self.role, "content": content}


class ChatRequest(BaseModel):
    model: str = Field(max_length=modeling.MAX_REF)
    messages: list[Message]
    temperature: float = Field(default=1.0, ge=0, le=2, allow_inf_nan=False)
    top_p: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = Field(default=None, ge=0, lt=2**63)


class ClassifyRequest(BaseModel):
    model: str = Field(max_length=modeling.MAX_REF)
    inputs: list[str | list[str]]


def check_key(request: Request, logins: bool = False) -> None:
    """The bearer key when FTLAB_API_KEY is set. An app behind logins (--auth) with no key set serves no /v1 at
    all: the UI's logins don't cover these routes, and an open API would bypass them."""
    key = os.environ.get("FTLAB_API_KEY")
    if not key and logins:
        raise ApiError(401, "this app requires a login; set FTLAB_API_KEY on the server to use the /v1 API",
                       "invalid_api_key")
    if not key:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <FTLAB_API_KEY>'",
                       "invalid_api_key")


def _gen(req: ChatRequest) -> generation.GenConfig:
    return generation.GenConfig(max_new_tokens=req.max_tokens or 256, temperature=req.temperature, top_p=req.top_p,
                              seed=req.seed or 0)


def _stops(stop) -> list[str]:
    return [stop] if isinstance(stop, str) else list(stop or [])


def _chunk(cid: str, model: str, delta: dict, finish: str | None) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def _stream(lab: Lab, req: ChatRequest, messages: list[dict]):
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    yield _chunk(cid, req.model, {"role": "assistant", "content": ""}, None)
    for text, finish in lab.server.complete(req.model, messages, _gen(req), _stops(req.stop)):
        if text:
            yield _chunk(cid, req.model, {"content": text}, None)
        if finish:
            yield _chunk(cid, req.model, {}, finish)
    yield "data: [DONE]\n\n"


def _complete(lab: Lab, req: ChatRequest, messages: list[dict], gone: threading.Event, tok) -> dict:
    """The whole reply at once; generation ends early when the client has gone (`gone`)."""
    parts, finish = [], "stop"
    for text, done in lab.server.complete(req.model, messages, _gen(req), _stops(req.stop)):
        parts.append(text)
        finish = done or finish
        if gone.is_set():
            break
    content = "".join(parts)
    tokens = len(tok(content)["input_ids"]) if content else 0
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": req.model, "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                             "finish_reason": finish}],
            "usage": {"completion_tokens": tokens}}


def _models(lab: Lab) -> list[dict]:
    now = int(time.time())
    bases = [{"id": ref, "object": "model", "created": now, "owned_by": "base", "task": task}
             for task, ref in tasks.default_models().items()]
    runs = [{"id": r["run_id"], "object": "model", "created": now, "owned_by": "ftlab", "task": r["task"],
             "base_model": r["model"], "method": r["method"]} for r in lab.runs() if r.get("has_weights")]
    exported = [{**r, "id": f"{r['id']}:{e}", "runtime": "onnxruntime" if e.startswith("onnx") else "llama.cpp"}
                for r in runs for e in lab.server.exports(r["id"])]
    return runs + exported + bases


def not_found(model: str) -> ApiError:
    """The one answer for a model that is missing and for one that is not the caller's: nothing tells them apart."""
    return ApiError(404, f"The model {modeling.short(model)} does not exist or you do not have access to it.",
                    "model_not_found")


def _check_model(lab: Lab, model: str) -> None:
    """Fail fast with 404 for a model that is neither a run nor findable, before a stream starts."""
    from ftlab.runs.run_dir import RUN_ID, RunDir

    run_id, _, export = model.partition(":")
    if export and RUN_ID.match(run_id) and RunDir(run_id).exists() and lab.visible(run_id):
        if export not in lab.server.exports(run_id):
            raise ApiError(404, f"run {run_id} has no export {export!r}: export it first (Export tab, or python -m "
                                "ftlab export)", "model_not_found")
        return
    if RUN_ID.match(model) and RunDir(model).exists():
        if not lab.visible(model):  # shared mode: runs are the operator's (FTLAB_API_KEY) to serve, no one else's
            raise not_found(model)
        if RunDir(model).weights_dir() is None:
            raise ApiError(409, f"run {model} has no saved weights yet; retry when it has finished")
        return
    try:
        lab.check_model(model)
        modeling.resolve(model)
    except (ValueError, modeling.ModelNotFound):
        raise not_found(model) from None


def _error(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": code}},
                        status_code=status, headers=headers)


async def parsed(request: Request, model: type[BaseModel]):
    """The request's JSON body as `model`, or ApiError 400 naming the first bad field (FastAPI would answer 422
    in its own shape, which OpenAI's clients do not read). The key is checked first: 401 before any 400."""
    check_key(request, bool(getattr(request.app.state, "ftlab_logins", False)))
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ApiError(400, f"{where}: {first.get('msg', 'invalid value')}", "invalid_request") from None


def answer(request: Request, work):
    """Run `work()` after the key check; failures become OpenAI-shaped error responses."""
    try:
        check_key(request, bool(getattr(request.app.state, "ftlab_logins", False)))
        owners.acting_as(owners.OPERATOR if os.environ.get("FTLAB_API_KEY") else None)
        return work()
    except ApiError as exc:
        return _error(exc.status, redact.paths(exc.message), exc.code)
    except NotReady as exc:
        return _error(409, redact.paths(str(exc)))
    except Busy as exc:  # a training run needs the memory: 503 with Retry-After, which the openai client honours
        return _error(503, redact.paths(str(exc)), "busy", {"Retry-After": str(exc.retry_after)})
    except PromptTooLong as exc:
        return _error(400, str(exc), "context_length_exceeded")
    except ValueError as exc:
        return _error(400, redact.paths(str(exc)))


def chat(lab: Lab, req: ChatRequest, gone: threading.Event):
    if not req.messages or req.messages[-1].role not in ("user", "system"):
        raise ApiError(400, "messages must end with a user turn")
    _check_model(lab, req.model)
    messages = [m.plain() for m in req.messages]
    tok = lab.server.ready(req.model, messages)  # loads now; a prompt too long is a 400 now, not a broken stream
    if req.stream:
        return StreamingResponse(_stream(lab, req, messages), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return _complete(lab, req, messages, gone, tok)


def classify(lab: Lab, req: ClassifyRequest) -> dict:
    if not req.inputs:
        raise ApiError(400, "inputs is empty")
    if len(req.inputs) > MAX_INPUTS:
        raise ApiError(413, f"inputs holds {len(req.inputs)} texts; at most {MAX_INPUTS} per request "
                            "(FTLAB_MAX_INPUTS): send them in several requests", "too_many_inputs")
    longest = max(sum(map(len, x)) if isinstance(x, list) else len(x) for x in req.inputs)
    if longest > MAX_INPUT_CHARS:
        raise ApiError(413, f"an input has {longest:,} characters; at most {MAX_INPUT_CHARS:,} (each is cut at 512 "
                            "tokens anyway)", "input_too_long")
    _check_model(lab, req.model)
    results = lab.server.predict(req.model, req.inputs)
    return {"object": "list", "model": req.model,
            "data": [{"index": i, "input": x, **r} for i, (x, r) in enumerate(zip(req.inputs, results))]}


def router(lab: Lab) -> APIRouter:
    api = APIRouter(prefix="/v1")

    def models_route(request: Request):
        return answer(request, lambda: {"object": "list", "data": _models(lab)})


    async def chat_route(request: Request):
        try:
            req = await parsed(request, ChatRequest)
        except ApiError as exc:
            return _error(exc.status, exc.message, exc.code)
        gone = threading.Event()  # set when the client disconnects: a reply nobody reads is not generated
        done = threading.Event()

        async def watch() -> None:
            while not done.is_set():
                if await request.is_disconnected():
                    gone.set()
                    return
                await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch()) if not req.stream else None  # a stream stops when its writes fail
        try:
            return await run_in_threadpool(answer, request, lambda: chat(lab, req, gone))
        finally:
            done.set()
            if watcher:
                watcher.cancel()

    async def classify_route(request: Request):
        try:
            req = await parsed(request, ClassifyRequest)
        except ApiError as exc:
            return _error(exc.status, exc.message, exc.code)
        return await run_in_threadpool(answer, request, lambda: classify(lab, req))

    def export_route(request: Request, run_id: str, fmt: str, merge: bool = False):
        """The run in `fmt` (safetensors, gguf-f16 / gguf-q8_0 / gguf-q4_k_m / gguf-lora, onnx) as a zip."""
        def work():
            if not lab.visible(run_id):
                raise not_found(run_id)
            path = lab.export_zip(run_id, merge, fmt)
            return FileResponse(path, filename=Path(path).name, media_type="application/zip")
        return answer(request, work)

    api.add_api_route("/exports/{run_id}/{fmt}", export_route, methods=["GET"])
    api.add_api_route("/models", models_route, methods=["GET"])
    api.add_api_route("/chat/completions", chat_route, methods=["POST"])
    api.add_api_route("/classify", classify_route, methods=["POST"])
    return api


def mount(app: FastAPI, lab: Lab, logins: bool = False) -> None:
    """Add the /v1 routes to the app's running FastAPI server (routes are looked up per request); `logins`: the
    UI requires a login, so /v1 needs FTLAB_API_KEY."""
    app.state.ftlab_logins = logins
    app.include_router(router(lab))
