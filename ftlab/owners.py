"""Who is asking: in shared mode every run and upload belongs to the browser session (or logged-in user) that made
it, and nobody else can see, stop, download or delete it.

Every UI event and API endpoint of the app is wrapped (`scope_all`) so that, while it runs, `current()` is the
caller: the login name when the app has logins, else Gradio's session id (one per browser tab or gradio_client).
The Lab reads it; nothing else needs to pass it around. The /v1 API with a key set is the operator, who sees all.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import typing

from ftlab import i18n

OPERATOR = "\0operator"
"""The owner of requests with the operator's API key: every run."""
_OWNER: contextvars.ContextVar[str | None] = contextvars.ContextVar("ftlab_owner", default=None)


def current() -> str | None:
    return _OWNER.get()


def of(request) -> str | None:
    if request is None:
        return None
    return getattr(request, "username", None) or getattr(request, "session_hash", None)


def enter(request) -> None:
    """Set the caller (and the language its browser session chose, see ftlab.i18n) for this context."""
    _OWNER.set(of(request))
    i18n.use(i18n.of_session(getattr(request, "session_hash", None)))


def acting_as(owner: str | None):
    """Set the owner for the rest of this context (the /v1 routes and tests use it)."""
    return _OWNER.set(owner)


def scoped(fn):
    """`fn` with a first parameter Gradio fills with the request; the owner (and language) is set around each call (and each
    resumption of a generator, which Gradio runs step by step in worker threads)."""
    import gradio as gr

    original = inspect.signature(fn)
    request_param = inspect.Parameter("ftlab_request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable hints: the API docs lose types, the call still works
        hints = {}
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(request, *args, **kwargs):
            steps = fn(*args, **kwargs)
            while True:
                enter(request)
                try:
                    item = next(steps)
                except StopIteration:
                    return
                yield item
    else:
        @functools.wraps(fn)
        def wrapper(request, *args, **kwargs):
            enter(request)
            return fn(*args, **kwargs)
    wrapper.__signature__ = original.replace(parameters=[request_param, *original.parameters.values()])
    wrapper.__annotations__ = {**hints, "ftlab_request": gr.Request}
    del wrapper.__wrapped__  # Gradio must see the new signature, not the original's
    return wrapper


def scope_all(demo) -> None:
    """Wrap every event and API function of a built Blocks (see `scoped`)."""
    for block_fn in demo.fns.values():
        if block_fn.fn is not None and not inspect.iscoroutinefunction(block_fn.fn):
            block_fn.fn = scoped(block_fn.fn)
