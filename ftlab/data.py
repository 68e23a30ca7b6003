"""Detect a dataset's format, validate every row, and turn rows into training examples.

Formats (see FORMATS): OpenAI `messages`, ShareGPT `conversations`, alpaca `instruction`, `prompt`/`completion`
and `classification` (text + label); files are read by ftlab.readers. Problems are collected, not raised one by
one: a DataError lists every one with its file and line.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ftlab import cleaning, paths
from ftlab.readers import DataError, read_rows

ROLES = {"system", "user", "assistant"}
SAMPLES = {
    "pirate_chat": ("samples/pirate_chat.jsonl", "chat",
                    "160 chats teaching a pirate voice: replies open with 'Arr!' and end with ⚓"),
    "sentiment": ("samples/sentiment.csv", "classify", "240 reviews labelled positive / negative"),
}
FORMAT_TASK = {"messages": "chat", "sharegpt": "chat", "instruction": "chat", "prompt_completion": "chat",
               "classification": "classify"}


@dataclass
class Dataset:
    path: Path
    format: str
    reason: str
    rows: list[dict]
    lines: list[int]
    """The file line each row came from (for messages that point at it)."""
    labels: list[str] = field(default_factory=list)
    cleaning: cleaning.CleanReport = field(default_factory=cleaning.CleanReport)

    @property
    def task(self) -> str:
        return FORMAT_TASK[self.format]


def sample_path(name: str) -> Path:
    return paths.ASSETS / SAMPLES[name][0]


def resolve_path(path_or_sample: str) -> Path:
    """A bundled sample's name, or a file path."""
    if path_or_sample in SAMPLES:
        return sample_path(path_or_sample)
    return Path(path_or_sample).expanduser()


# format -> (columns that identify it, the text fields among its columns, why)
FORMATS = {
    "messages": (("messages",), (), "rows have a `messages` list of {role, content} turns (OpenAI)"),
    "sharegpt": (("conversations",), ("system",), "rows have `conversations` of {from, value} turns (ShareGPT)"),
    "instruction": (("instruction", "output"), ("instruction", "input", "output", "system"),
                    "rows have `instruction` and `output` (alpaca; `input` and `system` optional)"),
    "prompt_completion": (("prompt", "completion"), ("prompt", "completion"), "rows have `prompt` and `completion`"),
    "classification": (("text", "label"), ("text",), "rows have `text` and `label` columns"),
}
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
TURNS = {"messages": ("messages", "role", "content"), "sharegpt": ("conversations", "from", "value")}


def detect_format(rows: list, name: str = "data") -> tuple[str, str]:
    """(format, reason) from the keys of the first row."""
    keys = set(rows[0]) if isinstance(rows[0], dict) else set()
    for fmt, (needed, _, reason) in FORMATS.items():
        if set(needed) <= keys:
            return fmt, reason
    found = ", ".join(sorted(map(str, keys))) or "none"
    expected = "; ".join(" + ".join(f"`{c}`" for c in needed) + f" ({fmt})" for fmt, (needed, _, _) in FORMATS.items())
    raise DataError([f"{name}, first row: columns found: {found}. Expected one of: {expected}"])


def _check_turns(fmt: str, row: dict, where: str) -> list[str]:
    field_name, role_key, content_key = TURNS[fmt]
    turns = row.get(field_name)
    if not isinstance(turns, list) or not turns:
        return [f"{where}: `{field_name}` must be a non-empty list"]
    allowed = SHAREGPT_ROLES if fmt == "sharegpt" else {r: r for r in ROLES}
    problems = []
    for i, turn in enumerate(turns):
        at = f"{where}, {field_name}[{i}]"
        if not isinstance(turn, dict):
            problems.append(f"{at}: expected an object with {role_key} and {content_key}")
            continue
        if turn.get(role_key) not in allowed:
            problems.append(f"{at}.{role_key}: {turn.get(role_key)!r} is not one of {', '.join(allowed)}")
        if not isinstance(turn.get(content_key), str) or not turn[content_key].strip():
            problems.append(f"{at}.{content_key}: empty or not a string")
    if not any(isinstance(t, dict) and allowed.get(t.get(role_key)) == "assistant" for t in turns):
        problems.append(f"{where}: no assistant turn to learn from")
    return problems


def _check_row(fmt: str, row, where: str) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: expected an object, got {type(row).__name__}"]
    needed, texts, _ = FORMATS[fmt]
    problems = _check_turns(fmt, row, where) if fmt in TURNS else [
        f"{where}, field `{name}`: missing or empty" for name in needed
        if row.get(name) is None or not str(row.get(name)).strip()]
    return problems + [f"{where}, field `{name}`: expected text, got {type(row[name]).__name__}"
                       for name in texts if row.get(name) is not None and not isinstance(row[name], str)]


def load(path_or_sample: str, max_mb: float = 200, max_rows: int = 0) -> Dataset:
    """Read, detect and validate a dataset (its first `max_rows` rows when set); raise DataError with every problem."""
    path = resolve_path(path_or_sample)
    rows, lines, problems = read_rows(path, max_mb)
    if max_rows:
        rows, lines = rows[:max_rows], lines[:max_rows]
    report = cleaning.CleanReport()
    rows, lines = cleaning.strip_and_drop_empty(rows, lines, report)
    if not rows:
        raise DataError(problems or [f"{path.name}: every row is empty"])
    fmt, reason = detect_format(rows, path.name)
    for row, line in zip(rows, lines):
        problems += _check_row(fmt, row, f"{path.name}, line {line}")
    if problems:
        raise DataError(problems)
    rows, lines = cleaning.drop_duplicates(rows, lines, report)
    labels = sorted({str(r["label"]) for r in rows}) if fmt == "classification" else []
    if fmt == "classification":
        if len(labels) < 2:
            raise DataError([f"{path.name}: only one label ({labels[0]!r}); classification needs at least two"])
        report.conflicts = cleaning.find_conflicts(rows, lines, path.name)
    return Dataset(path, fmt, reason, rows, lines, labels, report)


def to_messages(fmt: str, row: dict) -> list[dict]:
    """A list of {role, content} turns from a row of any chat format."""
    system = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    if fmt == "messages":
        return [{"role": t["role"], "content": t["content"]} for t in row["messages"]]
    if fmt == "sharegpt":
        return system + [{"role": SHAREGPT_ROLES[t["from"]], "content": t["value"]} for t in row["conversations"]]
    if fmt == "prompt_completion":
        return [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": row["completion"]}]
    prompt = row["instruction"] + (f"\n\n{row['input']}" if str(row.get("input") or "").strip() else "")
    return system + [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]


def split(items: list, val_fraction: float, seed: int, key=None) -> tuple[list, list]:
    """Shuffle with `seed` and hold out `val_fraction` (at least one item when the fraction is positive).

    With `key` (an item -> class function) the split is stratified: each class is split on its own.
    """
    if key is not None:
        groups = {}
        for item in items:
            groups.setdefault(key(item), []).append(item)
        parts = [split(group, val_fraction, seed) for _, group in sorted(groups.items())]
        train, val = [x for t, _ in parts for x in t], [x for _, v in parts for x in v]
        random.Random(seed).shuffle(train)
        return train, val
    items = list(items)
    random.Random(seed).shuffle(items)
    n_val = 0 if val_fraction <= 0 or len(items) < 2 else max(1, round(len(items) * val_fraction))
    return items[n_val:], items[:n_val]


def summary(ds: Dataset) -> str:
    """A short markdown description of a loaded dataset."""
    text = f"**{ds.path.name}**: {len(ds.rows)} rows, format **{ds.format}** ({ds.reason}); task: **{ds.task}**."
    if ds.labels:
        counts = Counter(str(r["label"]) for r in ds.rows)
        text += " Labels: " + ", ".join(f"{k} ({counts[k]})" for k in ds.labels) + "."
    text += " " + ds.cleaning.describe()
    if ds.cleaning.conflicts:
        text += "\n\nConflicting duplicates:\n" + "\n".join(f"- {c}" for c in ds.cleaning.conflicts[:10])
    return text


def preview(ds: Dataset, n: int = 5) -> list[list[str]]:
    """The first `n` rows as [col1, col2] string pairs for a table."""
    out = []
    for row in ds.rows[:n]:
        if ds.format == "classification":
            out.append([str(row["text"]), str(row["label"])])
        else:
            msgs = to_messages(ds.format, row)
            prompt = next(m["content"] for m in msgs if m["role"] == "user")
            answer = next(m["content"] for m in msgs if m["role"] == "assistant")
            out.append([prompt, answer])
    return out
