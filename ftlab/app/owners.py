"""Who is asking: in shared mode every run and upload belongs to the browser session (or logged-in user) that made
it, and nobody else can see, stop, download or delete it.

Every UI event and API endpoint of the app is wrapped (ftlab.app.ui.scoping) so that, while it runs, `current()` is the
caller: the login name when the app has logins, else Gradio's session id (one per browser tab or gradio_client).
The Lab reads it; nothing else needs to pass it around. The /v1 API with a key set is the operator, who sees all.

The operator is an object the server sets, never a value a request can carry: a request names its caller only by
the login Gradio checked or by a session id, and a session id of any unexpected form is refused.
"""

from __future__ import annotations

import contextvars
import re

from ftlab import i18n



class _Operator:
    """The one caller who sees every run: set by the server for a request with the operator's API key."""

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR = _Operator()
"""The owner of requests with the operator's API key: every run. An object, so no string a client sends equals it."""
_OWNER: contextvars.ContextVar[str | _Operator | None] = contextvars.ContextVar("ftlab_owner", default=None)
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{6,100}$")
"""What Gradio's clients send as a session id: the browser's base-36 random string, gradio_client's uuid4."""


class ForgedSession(ValueError):
    """A request whose session id is not of the form Gradio's clients make."""


def current() -> str | _Operator | None:
    return _OWNER.get()


def is_operator() -> bool:
    return _OWNER.get() is OPERATOR


def of(request) -> str | None:
    """The caller of a Gradio request: the login Gradio checked, else the session id (ForgedSession when that is
    of an unexpected form); None for no request or no session."""
    if request is None:
        return None
    username = getattr(request, "username", None)
    if username:
        return username
    session = getattr(request, "session_hash", None)
    if session is None:
        return None
    if not isinstance(session, str) or not SESSION_ID.match(session):
        raise ForgedSession("refused: this request's session id is not one this app hands out")
    return session


def enter(request) -> None:
    """Set the caller (and the language its browser session chose, see ftlab.i18n) for this context."""
    _OWNER.set(of(request))
    i18n.use(i18n.of_session(getattr(request, "session_hash", None)))


def acting_as(owner: str | _Operator | None):
    """Set the owner for the rest of this context (the /v1 routes and tests use it)."""
    return _OWNER.set(owner)
