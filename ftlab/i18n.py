"""English and 简体中文: every text the app shows comes from `ftlab/locales/*.yaml`, a key per text with both
languages side by side:

    train.epochs:
      label: {en: Epochs, zh: 训练轮数}
      info: {en: Passes over the rows., zh: 遍历数据的次数。}
    msg.pick_data: {en: Pick a sample first., zh: 请先选择示例数据。}

`t(key)` is a message in the caller's language; `texts(key)` the component properties (label, info,
placeholder, value, choices) of a key. The caller's language lives in a context variable, set for each UI event
from the browser session's choice (`remember`), like the owner in ftlab.app.owners.
"""

from __future__ import annotations

import contextvars
import functools
from pathlib import Path

import yaml

LANGS = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
LOCALES = Path(__file__).with_name("locales")
_LANG: contextvars.ContextVar[str] = contextvars.ContextVar("ftlab_lang", default=DEFAULT)
_SESSIONS: dict[str, str] = {}
"""Browser session id -> the language it chose (forgotten when the tab closes)."""


@functools.cache
def catalog() -> dict[str, dict]:
    """Every key of every locale file. A key maps to {en, zh} (a message) or to {prop: {en, zh}} (a component)."""
    merged: dict[str, dict] = {}
    for path in sorted(LOCALES.glob("*.yaml")):
        for key, entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if key in merged:
                raise ValueError(f"{path.name}: key {key!r} is defined twice")
            merged[key] = entry
    return merged


def current() -> str:
    return _LANG.get()


def use(lang: str | None):
    """Set the language for the rest of this context."""
    return _LANG.set(lang if lang in LANGS else DEFAULT)


def pick(entry, lang: str | None = None):
    """The text of a {en, zh} entry in `lang` (default: the caller's), English where a translation is missing."""
    if not isinstance(entry, dict):
        return entry
    return entry.get(lang or current()) or entry.get(DEFAULT, "")


def t(key: str, lang: str | None = None, **fields) -> str:
    """The message `key` in the caller's language, with {fields} filled in."""
    text = pick(catalog()[key], lang)
    return text.format(**fields) if fields else text


def t_or(key: str, fallback: str, lang: str | None = None) -> str:
    """The message `key` in the caller's language, or `fallback` where no locale file has the key (texts that
    come with data, such as a sample's description, are translated only where someone wrote one)."""
    return t(key, lang) if key in catalog() else fallback


def texts(key: str, lang: str | None = None) -> dict:
    """The component properties of `key` in `lang`; `choices` (a {value: {en, zh}} map) become (label, value)."""
    out = {}
    for prop, entry in catalog()[key].items():
        if prop == "choices":
            out[prop] = [(pick(label, lang), value) for value, label in entry.items()]
        else:
            out[prop] = pick(entry, lang)
    return out


def from_request(request) -> str:
    """The language a request asks for: `?lang=` in the page's address, else the browser's first preference."""
    if request is None:
        return DEFAULT
    asked = (request.query_params.get("lang") or "").lower() if hasattr(request, "query_params") else ""
    if asked[:2] in LANGS:
        return asked[:2]
    header = (request.headers.get("accept-language") or "") if hasattr(request, "headers") else ""
    first = header.split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else DEFAULT


def remember(session: str | None, lang: str) -> None:
    if session:
        _SESSIONS[session] = lang if lang in LANGS else DEFAULT


def forget(session: str | None) -> None:
    _SESSIONS.pop(session or "", None)


def of_session(session: str | None) -> str:
    return _SESSIONS.get(session or "", DEFAULT)
