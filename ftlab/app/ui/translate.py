"""The UI's language switch. Components are made with `tr(key, gr.Textbox, ...)`: their label, info, placeholder,
value (buttons, static Markdown) or choices come from the locale key (ftlab/locales), in English at build time,
and the key is remembered. Switching language answers one update per remembered component.

    epochs = tr("train.epochs", gr.Number, 3, step=0.5, elem_id="epochs")
"""

from __future__ import annotations

from contextlib import contextmanager

import gradio as gr

from ftlab import i18n


class Registry:
    """What one app build made with `tr` (component, key, the choice values it offers), and the handlers that
    redraw text made at run time (`redraw`), called after a switch."""

    def __init__(self):
        self.items: list[tuple[object, str, list | None]] = []
        self.redraws: list[tuple[object, list, list]] = []

    @property
    def components(self) -> list:
        return [item[0] for item in self.items]

    def updates(self, lang: str) -> list:
        """One update per component: its texts in `lang` (only the choices it offers)."""
        out = []
        for _, key, offered in self.items:
            props = i18n.texts(key, lang)
            if offered is not None and "choices" in props:  # the values offered, in their order, relabelled
                labels = {value: label for label, value in props["choices"]}
                props["choices"] = [(labels[v], v) for v in offered if v in labels]
            out.append(gr.update(**props))
        return out


_registry: Registry | None = None


@contextmanager
def collecting():
    """Remember every `tr` component made inside (one app build)."""
    global _registry
    outer, _registry = _registry, Registry()
    try:
        yield _registry
    finally:
        _registry = outer


def redraw(fn, inputs, outputs) -> None:
    """After a language switch, run `fn(*inputs) -> outputs` (for text a handler wrote in the old language)."""
    if _registry is not None:
        _registry.redraws.append((fn, inputs, outputs))


def tr(key: str, factory, *args, **kwargs):
    """`factory(*args, **kwargs)` with the texts of `key` (in English; kwargs given here win), remembered for the
    language switch."""
    props = i18n.texts(key, i18n.DEFAULT)
    if "choices" in props and "choices" in kwargs:  # offered here: these values, labelled from the key
        labels = {value: label for label, value in props["choices"]}
        kwargs["choices"] = [(labels.get(_value(c), _label(c)), _value(c)) for c in kwargs["choices"]]
    component = factory(*args, **{**props, **kwargs})
    if _registry is not None:
        offered = [_value(c) for c in kwargs["choices"]] if "choices" in kwargs else None
        _registry.items.append((component, key, offered))
    return component


def _value(choice):
    return choice[1] if isinstance(choice, tuple) else choice


def _label(choice):
    return choice[0] if isinstance(choice, tuple) else str(choice)


def t(key: str, **fields) -> str:
    """A message in the caller's language (ftlab.i18n.t)."""
    return i18n.t(key, **fields)
