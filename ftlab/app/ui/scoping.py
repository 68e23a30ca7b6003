"""Every event and API function of the Gradio app runs with its caller set (ftlab.app.owners): the login Gradio checked or
the session id, and the language that browser session chose. A session id of a form Gradio's clients never make
is answered with an error, and nothing runs."""

from __future__ import annotations

import functools
import inspect
import typing

import gradio as gr

from ftlab.app.owners import ForgedSession, enter


def _enter_or_refuse(request) -> None:
    """`enter`, with a forged session answered as a Gradio error (the caller sees why, nothing runs)."""
    try:
        enter(request)
    except ForgedSession as exc:
        raise gr.Error(str(exc)) from None


def scoped(fn):
    """`fn` with a first parameter Gradio fills with the request; the owner (and language) is set around each call (and each
    resumption of a generator, which Gradio runs step by step in worker threads)."""
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
                _enter_or_refuse(request)
                try:
                    item = next(steps)
                except StopIteration:
                    return
                yield item
    else:
        @functools.wraps(fn)
        def wrapper(request, *args, **kwargs):
            _enter_or_refuse(request)
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
