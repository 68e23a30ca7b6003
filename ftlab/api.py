"""OpenAI-compatible HTTP API on the app's own server: GET /v1/models, POST /v1/chat/completions (streamed as
server-sent events or not) and POST /v1/classify.

`model` is a run id (its tuned model) or a base model id or folder. When FTLAB_API_KEY is set, every /v1 call must
carry `Authorization: Bearer <key>`, else it gets 401. Errors come in OpenAI's shape: {"error": {"message", "type",
"code"}}, so the official clients raise their usual exceptions.
"""

from __future__ import annotations

import hmac
import json
import os
import time
import uuid

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ftlab import generate, modeling, owners
from ftlab.config import DEFAULT_MODELS
from ftlab.infer import Busy, NotReady
from ftlab.service import Lab


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str
    messages: list[Message]
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = None


class ClassifyRequest(BaseModel):
    model: str
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


def _gen(req: ChatRequest) -> generate.GenConfig:
    return generate.GenConfig(max_new_tokens=req.max_tokens or 256, temperature=req.temperature, top_p=req.top_p,
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


def _complete(lab: Lab, req: ChatRequest, messages: list[dict]) -> dict:
    parts, finish = [], "stop"
    for text, done in lab.server.complete(req.model, messages, _gen(req), _stops(req.stop)):
        parts.append(text)
        finish = done or finish
    content = "".join(parts)
    tokens = len(lab.server.pick(req.model, "chat")[0].tokenizer(content)["input_ids"]) if content else 0
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": req.model, "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                             "finish_reason": finish}],
            "usage": {"completion_tokens": tokens}}


def _models(lab: Lab) -> list[dict]:
    now = int(time.time())
    bases = [{"id": ref, "object": "model", "created": now, "owned_by": "base", "task": task}
             for task, ref in DEFAULT_MODELS.items()]
    runs = [{"id": r["run_id"], "object": "model", "created": now, "owned_by": "ftlab", "task": r["task"],
             "base_model": r["model"], "method": r["method"]} for r in lab.runs() if r.get("has_weights")]
    return runs + bases


def _check_model(lab: Lab, model: str) -> None:
    """Fail fast with 404 for a model that is neither a run nor findable, before a stream starts."""
    from ftlab.runs import RUN_ID, RunDir

    if RUN_ID.match(model) and RunDir(model).exists():
        try:
            lab.check_owner(model)  # shared mode: runs are the operator's (FTLAB_API_KEY) to serve, no one else's
        except ValueError as exc:
            raise ApiError(404, str(exc), "model_not_found") from None
        if RunDir(model).weights_dir() is None:
            raise ApiError(409, f"run {model} has no saved weights yet; retry when it has finished")
        return
    try:
        modeling.resolve(model)
    except modeling.ModelNotFound as exc:
        raise ApiError(404, str(exc), "model_not_found") from None


def _error(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": code}},
                        status_code=status, headers=headers)


def answer(request: Request, work):
    """Run `work()` after the key check; failures become OpenAI-shaped error responses."""
    try:
        check_key(request, bool(getattr(request.app.state, "ftlab_logins", False)))
        owners.acting_as(owners.OPERATOR if os.environ.get("FTLAB_API_KEY") else None)
        return work()
    except ApiError as exc:
        return _error(exc.status, exc.message, exc.code)
    except NotReady as exc:
        return _error(409, str(exc))
    except Busy as exc:  # a training run needs the memory: 503 with Retry-After, which the openai client honours
        return _error(503, str(exc), "busy", {"Retry-After": str(exc.retry_after)})
    except ValueError as exc:
        return _error(400, str(exc))


def chat(lab: Lab, req: ChatRequest):
    if not req.messages or req.messages[-1].role not in ("user", "system"):
        raise ApiError(400, "messages must end with a user turn")
    _check_model(lab, req.model)
    messages = [m.model_dump() for m in req.messages]
    lab.server.pick(req.model, "chat")  # loads now, so a model that can't load is an error status, not a broken stream
    if req.stream:
        return StreamingResponse(_stream(lab, req, messages), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return _complete(lab, req, messages)


def classify(lab: Lab, req: ClassifyRequest) -> dict:
    if not req.inputs:
        raise ApiError(400, "inputs is empty")
    _check_model(lab, req.model)
    results = lab.server.predict(req.model, req.inputs)
    return {"object": "list", "model": req.model,
            "data": [{"index": i, "input": x, **r} for i, (x, r) in enumerate(zip(req.inputs, results))]}


def router(lab: Lab) -> APIRouter:
    api = APIRouter(prefix="/v1")

    def models_route(request: Request):
        return answer(request, lambda: {"object": "list", "data": _models(lab)})


    def chat_route(request: Request, req: ChatRequest):
        return answer(request, lambda: chat(lab, req))

    def classify_route(request: Request, req: ClassifyRequest):
        return answer(request, lambda: classify(lab, req))

    api.add_api_route("/models", models_route, methods=["GET"])
    api.add_api_route("/chat/completions", chat_route, methods=["POST"])
    api.add_api_route("/classify", classify_route, methods=["POST"])
    return api


def mount(app: FastAPI, lab: Lab, logins: bool = False) -> None:
    """Add the /v1 routes to the app's running FastAPI server (routes are looked up per request); `logins`: the
    UI requires a login, so /v1 needs FTLAB_API_KEY."""
    app.state.ftlab_logins = logins
    app.include_router(router(lab))
