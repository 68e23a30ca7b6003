"""Messages for a person, as codes with fields: what the engine tells the UI (a run's notes and warnings, a data
problem) without words of any language but the English kept for logs, the CLI and the API.

An `Event` is its English text (a `str`, so logs and the API read it as before) carrying `code` and `fields`.
The UI writes it in the person's language from its locale key `<kind>.<code>` (ftlab/app/texts.py). A run's
status stores one under its key (`note`) as text, and its code and fields beside it (`note_event`). This module
imports nothing of ftlab: every layer may use it.
"""

from __future__ import annotations


class Event(str):
    def __new__(cls, code: str, text: str, **fields):
        obj = super().__new__(cls, text)
        obj.code, obj.fields = code, fields
        return obj

    def as_dict(self) -> dict:
        return {"code": self.code, "fields": self.fields}


def with_codes(fields: dict) -> dict:
    """`fields` for a status file: each Event also as `<key>_event` (its code and fields); a key set to a plain
    value drops the code it had."""
    out = dict(fields)
    for key, value in fields.items():
        if key.endswith("_event"):
            continue
        if isinstance(value, Event):
            out[f"{key}_event"] = value.as_dict()
        elif f"{key}_event" not in fields and key in CODED:
            out[f"{key}_event"] = None
    return out


CODED = ("note", "resumed", "warning")
"""The status keys that are Events (a later plain value clears the code beside them)."""
