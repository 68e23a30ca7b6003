"""An Ollama Modelfile for an exported GGUF: FROM the file, a TEMPLATE that renders the conversation as the model's
own chat template does, its stop tokens, and the run's system prompt when it used one.

Ollama's TEMPLATE is a Go text/template over `.Messages` ({Role, Content}). No library turns a Jinja chat
template into one, so it is derived here from the model's template itself: the template is rendered with marker
contents in every order of roles a conversation has, and the text it puts before the first message, between two
messages (by the roles on either side) and after the last (the generation prompt) is read off between the markers.
Everything a template adds by itself (a default system prompt when none is given) is in those texts, so the Go
template reproduces the Jinja one for conversations of those roles.
"""

from __future__ import annotations

import json

ROLES = ("system", "user", "assistant")
ORDERS = ([0, 1, 2, 1, 2, 1], [1, 2, 1, 2, 1])
"""Conversations (as indices of ROLES) rendered to read the texts off: with and without a system prompt."""
MARK = "\x00{}\x00"


class NoTemplate(ValueError):
    """The chat template can't be read as Ollama's template (it rewrites the contents, or depends on more than
    the roles next to each message)."""


def parts(tok) -> dict:
    """{"head": {role: text}, "between": {"prev>role": text}, "tail": {role: text}} of the tokenizer's chat
    template: what it writes before a conversation's first message, between two messages and after the last one
    (after a user turn: with the generation prompt)."""
    head, between, tail = {}, {}, {}
    for order in ORDERS:
        messages = [{"role": ROLES[r], "content": MARK.format(i)} for i, r in enumerate(order)]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        pieces = _split(text, len(messages))
        _keep(head, ROLES[order[0]], _strip_bos(tok, pieces[0]))
        for i in range(1, len(order)):
            _keep(between, f"{ROLES[order[i - 1]]}>{ROLES[order[i]]}", pieces[i])
        _keep(tail, ROLES[order[-1]], pieces[-1])
        ended = tok.apply_chat_template(messages[:-1], tokenize=False)  # the same, ending on the assistant's turn
        _keep(tail, ROLES[order[-2]], _split(ended, len(messages) - 1)[-1])
    return {"head": head, "between": between, "tail": tail}


def _split(text: str, n: int) -> list[str]:
    pieces = []
    for i in range(n):
        before, sep, text = text.partition(MARK.format(i))
        if not sep:
            raise NoTemplate("the chat template changes message contents (it strips or rewrites them)")
        pieces.append(before)
    return pieces + [text]


def _keep(found: dict, key: str, text: str) -> None:
    if found.setdefault(key, text) != text:
        raise NoTemplate(f"the chat template writes {key} differently in different places of a conversation")


def _strip_bos(tok, text: str) -> str:
    """The begin token is the tokenizer's to add (llama.cpp adds it when the GGUF says so), not the template's."""
    bos = tok.bos_token or ""
    return text[len(bos):] if bos and text.startswith(bos) and getattr(tok, "add_bos_token", False) else text


def go_string(text: str) -> str:
    """A Go string literal (JSON's escapes are Go's for these texts)."""
    return json.dumps(text, ensure_ascii=False)


def template(tok) -> str:
    """The Go text/template rendering `.Messages` as the tokenizer's chat template does."""
    p = parts(tok)
    out = ['{{- $prev := "" }}{{- range $i, $m := .Messages }}']
    out.append("{{- if eq $i 0 }}" + _by_role(p["head"], "$m.Role"))
    for pair, text in p["between"].items():
        prev, role = pair.split(">")
        out.append(f'{{{{- else if and (eq $prev "{prev}") (eq $m.Role "{role}") }}}}{{{{ {go_string(text)} }}}}')
    out.append("{{- end }}{{ $m.Content }}{{ $prev = $m.Role }}{{- end }}")
    out.append(_by_role(p["tail"], "$prev"))
    return "".join(out)


def _by_role(texts: dict, role: str) -> str:
    branches = [f'{{{{- {"if" if i == 0 else "else if"} eq {role} "{r}" }}}}{{{{ {go_string(t)} }}}}'
                for i, (r, t) in enumerate(texts.items())]
    return "".join(branches) + "{{- end }}"


def modelfile(gguf_name: str, tok, stops: list[str], system: str = "", params: dict | None = None) -> str:
    """The Modelfile text: FROM ./<gguf_name>, TEMPLATE, a stop PARAMETER per stop text, SYSTEM when given."""
    lines = [f"FROM ./{gguf_name}", f'TEMPLATE """{template(tok)}"""']
    lines += [f"PARAMETER stop {go_string(s)}" for s in stops if s]
    lines += [f"PARAMETER {k} {v}" for k, v in (params or {}).items()]
    if system:
        lines.append(f'SYSTEM """{system}"""')
    return "\n".join(lines) + "\n"
