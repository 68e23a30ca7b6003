"""Dataset formats: what columns each one needs, how a file's columns map onto them, and how rows are checked.

A format is detected from the (mapped) column names, with the reason shown to the user, and can be overridden.
Columns with other names are mapped onto a format's fields by common aliases (`review` -> text, `sentiment` ->
label, `question`/`answer` -> prompt/completion...), or by the user's own mapping (data.columns in a run's
config). Files in LLaMA-Factory's alpaca and sharegpt layouts load as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ftlab.data.readers import Problem, Where


@dataclass(frozen=True)
class Format:
    name: str
    task: str
    needed: tuple[str, ...]
    optional: tuple[str, ...]
    texts: tuple[str, ...]
    """Fields that must hold text when present."""
    reason: str
    classes: bool | None = None
    """Whether its `label` is a class to predict (None: whenever it needs a `label`); KTO's label is not: it says
    whether a completion is desirable."""
    check: Callable | None = field(default=None, compare=False)
    """(row, Where) -> problems, for a format whose fields are more than texts (a task's own formats)."""
    conversation: Callable | None = field(default=None, compare=False)
    """row -> {role, content} turns, for a task's own format: what the Insight panel renders and measures."""
    preview: Callable | None = field(default=None, compare=False)
    """row -> the cells of its line in the Data tab's preview, under `headers`."""
    headers: tuple[str, ...] = ("input", "answer")
    """The preview's columns (locale keys data.col_<name>)."""

    @property
    def fields(self) -> tuple[str, ...]:
        return self.needed + self.optional

    @property
    def labelled(self) -> bool:
        """Rows carry a `label` (a classifier's target): labels are checked, counted, split evenly."""
        return self.classes if self.classes is not None else "label" in self.needed


# In detection order: the first whose needed fields a row has wins.
FORMATS = {f.name: f for f in (
    Format("messages", "chat", ("messages",), (), (), "rows have a `messages` list of {role, content} turns (OpenAI)"),
    Format("sharegpt", "chat", ("conversations",), ("system",), ("system",),
           "rows have `conversations` of {from, value} turns (ShareGPT)"),
    Format("alpaca", "chat", ("instruction", "output"), ("input", "system", "history"),
           ("instruction", "input", "output", "system"),
           "rows have `instruction` and `output` (alpaca; `input`, `system` and `history` optional)"),
    Format("prompt_completion", "chat", ("prompt", "completion"), ("system",), ("prompt", "completion", "system"),
           "rows have `prompt` and `completion`"),
    Format("sentence_pair", "classify", ("text", "text_pair", "label"), (), ("text", "text_pair"),
           "rows have two texts (`text`, `text_pair`) and a `label`: sentence-pair classification"),
    Format("classification", "classify", ("text", "label"), (), ("text",), "rows have `text` and `label`"),
    Format("text", "chat", ("text",), (), ("text",), "rows have only a `text`: plain language modelling"),
)}
FIELDS = tuple(dict.fromkeys(f for fmt in FORMATS.values() for f in fmt.fields))

ALIASES = {
    "text": ("text", "sentence", "review", "content", "document", "comment", "tweet", "utterance", "passage", "body"),
    "label": ("label", "labels", "sentiment", "class", "category", "target", "intent", "polarity"),
    "prompt": ("prompt", "question", "query", "input"),
    "completion": ("completion", "answer", "response", "output", "reply"),
    "instruction": ("instruction",),
    "output": ("output",),
    "messages": ("messages",),
    "conversations": ("conversations", "conversation"),
    "system": ("system", "system_prompt"),
}
PAIRS = (("sentence1", "sentence2"), ("text_a", "text_b"), ("text1", "text2"), ("premise", "hypothesis"),
         ("question1", "question2"), ("text", "text_pair"))

ROLES = {"system", "user", "assistant"}
# ShareGPT speakers (LLaMA-Factory's included); tool calls are the assistant's, tool results come back as user text.
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system",
                  "function_call": "assistant", "observation": "user"}
KNOWN_NAMES = {a for names in ALIASES.values() for a in names} | set(FIELDS) | {a for pair in PAIRS for a in pair}
TURNS = {"messages": ("messages", "role", "content"), "sharegpt": ("conversations", "from", "value")}


def _words(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", name.lower())


def guess_columns(columns: list[str]) -> dict[str, str]:
    """field -> file column, for the fields a file names differently: case, spaces, aliases (`Review Text` ->
    text, `Sentiment` -> label), sentence pairs. An exact alias wins over a column that only has one as a word."""
    lower = {"_".join(_words(c)): c for c in columns}
    for column in columns:  # `Review Text`: matched by its words, after the exact names
        for word in _words(column):
            lower.setdefault(word, column)
    mapping = {}
    for first, second in PAIRS:
        if first in lower and second in lower:
            mapping = {"text": lower[first], "text_pair": lower[second]}
            break
    if "instruction" in lower:  # alpaca's `input` is part of the instruction, not a prompt
        mapping.update({f: lower[f] for f in ("instruction", "input", "output", "system", "history") if f in lower})
    for name, aliases in ALIASES.items():
        used = set(mapping.values())
        if name not in mapping:
            found = next((lower[a] for a in aliases if a in lower and lower[a] not in used), None)
            if found is not None:
                mapping[name] = found
    return {k: v for k, v in mapping.items() if k != v}


def guess_headerless(rows: list[dict], names: list[str]) -> dict[str, str]:
    """Fields for a file without a header: the column whose values repeat most is the label, the others texts."""
    if len(names) == 1:
        return {"text": names[0]}
    distinct = {n: len({str(r.get(n)) for r in rows}) for n in names}
    label = min(names, key=lambda n: distinct[n])
    texts = [n for n in names if n != label][:2]
    return {"label": label, "text": texts[0], **({"text_pair": texts[1]} if len(texts) > 1 else {})}


def looks_headerless(header: list[str], rows: list[dict]) -> bool:
    """True when a CSV's first line is data: none of its cells names a known field and one of them repeats below
    in its own column (labels repeat; column names don't), or it has a number or an empty cell."""
    if {h.strip().lower() for h in header} & KNOWN_NAMES:
        return False
    if any(not h or re.fullmatch(r"-?\d+(\.\d+)?", h) for h in header):
        return True
    return any(h in {r.get(h) for r in rows[:1000]} for h in header)


def apply_columns(rows: list, mapping: dict[str, str]) -> list:
    """Rows with each mapped file column renamed to its field."""
    if not mapping:
        return rows
    out = []
    for row in rows:
        if isinstance(row, dict):
            row = dict(row)
            for name, column in mapping.items():
                if column in row:
                    row[name] = row.pop(column) if column not in FIELDS else row[column]
        out.append(row)
    return out


def detect(keys: set[str]) -> Format | None:
    """The format whose needed fields the keys hold, the most specific first (conversations + chosen + rejected is
    a preference pair before it is a ShareGPT conversation), then in FORMATS' order."""
    found = [f for f in FORMATS.values() if set(f.needed) <= keys]
    return max(found, key=lambda f: len(f.needed), default=None)


def expected() -> str:
    return "; ".join(" + ".join(f"`{c}`" for c in f.needed) + f" ({f.name})" for f in FORMATS.values())


def check_turns(fmt: str, row: dict, where: Where) -> list[str]:
    field_name, role_key, content_key = TURNS[fmt]
    turns = row.get(field_name)
    if not isinstance(turns, list) or not turns:
        return [Problem("not_turns", where.at(field_name), "must be a non-empty list of turns")]
    allowed = SHAREGPT_ROLES if fmt == "sharegpt" else {r: r for r in ROLES}
    problems = []
    for i, turn in enumerate(turns):
        at = f"{field_name}[{i}]"
        if not isinstance(turn, dict):
            problems.append(Problem("turn_not_object", where.inside(at), f"expected an object with {role_key} and "
                                    f"{content_key}", keys=f"{role_key}, {content_key}"))
            continue
        if turn.get(role_key) not in allowed:
            problems.append(Problem("unknown_role", where.inside(f"{field_name}[{i}].{role_key}"),
                                    f"{turn.get(role_key)!r} is not one of {', '.join(allowed)}",
                                    value=repr(turn.get(role_key)), allowed=", ".join(allowed)))
        if not isinstance(turn.get(content_key), str):
            got = type(turn.get(content_key)).__name__
            problems.append(Problem("not_text", where.inside(f"{at}.{content_key}"), f"expected text, got {got}",
                                    got=got))
        elif not turn[content_key].strip():
            problems.append(Problem("missing_field", where.inside(f"{at}.{content_key}"), "empty"))
    if not any(isinstance(t, dict) and allowed.get(t.get(role_key)) == "assistant" for t in turns):
        problems.append(Problem("no_assistant_turn", where, "no assistant turn to learn from"))
    return problems


def check_history(history, where: Where) -> list[str]:
    if history in (None, "", []):
        return []
    ok = isinstance(history, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in history)
    return [] if ok else [Problem("bad_history", where.at("history"), "expected a list of [instruction, "
                                  "response] pairs of text")]


def check_row(fmt: Format, row, where: Where | str) -> list[str]:
    """Every problem with one row of format `fmt`; `where` names the file and line."""
    where = where if isinstance(where, Where) else Where(str(where))
    if not isinstance(row, dict):
        return [Problem("not_object", where, f"expected an object with fields, got {type(row).__name__}",
                        got=type(row).__name__)]
    if fmt.check is not None:
        problems = [Problem("missing_field", where.at(name), "missing or empty") for name in fmt.needed
                    if row.get(name) is None or not str(row.get(name)).strip()]
        problems = problems or fmt.check(row, where)
    elif fmt.name in TURNS:
        problems = check_turns(fmt.name, row, where)
    else:
        problems = [Problem("missing_field", where.at(name), "missing or empty") for name in fmt.needed
                    if row.get(name) is None or not str(row.get(name)).strip()]
    problems += [Problem("not_text", where.at(name), f"expected text, got {type(row[name]).__name__}",
                         got=type(row[name]).__name__)
                 for name in fmt.texts if row.get(name) is not None and not isinstance(row[name], str)]
    if fmt.name == "alpaca":
        problems += check_history(row.get("history"), where)
    return problems


def to_messages(fmt: str, row: dict) -> list[dict]:
    """A list of {role, content} turns from a row of any chat format."""
    if FORMATS[fmt].conversation is not None:
        return FORMATS[fmt].conversation(row)
    system = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    if fmt == "messages":
        return [{"role": t["role"], "content": t["content"]} for t in row["messages"]]
    if fmt == "sharegpt":
        return system + [{"role": SHAREGPT_ROLES[t["from"]], "content": t["value"]} for t in row["conversations"]]
    if fmt == "prompt_completion":
        return system + [{"role": "user", "content": row["prompt"]},
                         {"role": "assistant", "content": row["completion"]}]
    history = [{"role": role, "content": text} for pair in row.get("history") or []
               for role, text in zip(("user", "assistant"), pair)]
    prompt = row["instruction"] + (f"\n\n{row['input']}" if str(row.get("input") or "").strip() else "")
    return system + history + [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]
