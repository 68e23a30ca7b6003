"""Read a dataset file into rows, detect its format, validate it and turn it into training examples.

Formats: `messages` (OpenAI chat rows), `instruction` (alpaca instruction/input/output), `classification`
(text + label). Problems are collected, not raised one by one: a DataError lists every one with its
file and line.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ftlab import paths

READERS = (".csv", ".tsv", ".jsonl", ".json")
ROLES = {"system", "user", "assistant"}
SAMPLES = {
    "pirate_chat": ("samples/pirate_chat.jsonl", "chat",
                    "160 chats teaching a pirate voice: replies open with 'Arr!' and end with ⚓"),
    "sentiment": ("samples/sentiment.csv", "classify", "240 reviews labelled positive / negative"),
}
FORMAT_TASK = {"messages": "chat", "instruction": "chat", "classification": "classify"}


class DataError(Exception):
    """Bad data; `problems` holds every problem found, each naming the file and line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__("\n".join(shown))


@dataclass
class Dataset:
    path: Path
    format: str
    reason: str
    rows: list[dict]
    lines: list[int]
    """The file line each row came from (for messages that point at it)."""
    labels: list[str] = field(default_factory=list)

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


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError([f"{path.name}: this is a binary file, not text (CSV, JSONL or JSON expected)"])
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError([f"{path.name}, line {line}: not valid UTF-8 ({exc.reason})"]) from None


def _read_jsonl(path: Path, text: str) -> tuple[list, list[int], list[str]]:
    rows, lines, problems = [], [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
            lines.append(number)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}, line {number}, column {exc.colno}: invalid JSON ({exc.msg})")
    return rows, lines, problems


def _read_json(path: Path, text: str) -> tuple[list, list[int], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError([f"{path.name}, line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"]) from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError([f"{path.name}: a JSON object must hold exactly one list of rows"])
        data = lists[0]
    if not isinstance(data, list):
        raise DataError([f"{path.name}: expected a JSON array of rows"])
    return data, list(range(1, len(data) + 1)), []


def _read_csv(path: Path, text: str) -> tuple[list, list[int], list[str]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, lines = [], []
    for row in reader:
        if None in row:
            raise DataError([f"{path.name}, line {reader.line_num}: more fields than the header has columns"])
        rows.append({k.strip(): v for k, v in row.items() if k is not None})
        lines.append(reader.line_num)
    return rows, lines, []


def read_rows(path: Path) -> tuple[list, list[int], list[str]]:
    """Rows of a CSV, TSV, JSONL or JSON file, the line (or index) each came from, and lines that did not parse."""
    path = Path(path)
    if not path.is_file():
        raise DataError([f"{path}: no such file"])
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise DataError([f"{path.name}: unsupported file type {suffix or '(none)'}; use {', '.join(READERS)}"])
    text = _read_text(path)
    reader = {".jsonl": _read_jsonl, ".json": _read_json}.get(suffix, _read_csv)
    rows, lines, problems = reader(path, text)
    if not rows:
        raise DataError(problems or [f"{path.name}: the file holds no rows"])
    return rows, lines, problems


def detect_format(rows: list, name: str = "data") -> tuple[str, str]:
    """(format, reason) from the keys of the first row."""
    first = rows[0] if isinstance(rows[0], dict) else {}
    keys = set(first)
    if "messages" in keys:
        return "messages", "rows have a `messages` list of {role, content} turns"
    if {"instruction", "output"} <= keys:
        return "instruction", "rows have `instruction` and `output` (alpaca style; `input` optional)"
    if {"text", "label"} <= keys:
        return "classification", "rows have `text` and `label` columns"
    found = ", ".join(sorted(map(str, keys))) or "none"
    raise DataError([
        f"{name}, first row: columns found: {found}. Expected one of: `messages` (chat), `instruction` + `output` "
        "(instruction), or `text` + `label` (classification)"])


def _check_messages(messages, where: str) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return [f"{where}: `messages` must be a non-empty list"]
    problems = []
    for i, turn in enumerate(messages):
        if not isinstance(turn, dict):
            problems.append(f"{where}, messages[{i}]: expected an object with role and content")
            continue
        if turn.get("role") not in ROLES:
            problems.append(f"{where}, messages[{i}].role: {turn.get('role')!r} is not system, user or assistant")
        if not isinstance(turn.get("content"), str) or not turn["content"].strip():
            problems.append(f"{where}, messages[{i}].content: empty or not a string")
    if not any(isinstance(t, dict) and t.get("role") == "assistant" for t in messages):
        problems.append(f"{where}: no assistant turn to learn from")
    return problems


def _check_row(fmt: str, row, where: str) -> list[str]:
    if not isinstance(row, dict):
        return [f"{where}: expected an object, got {type(row).__name__}"]
    if fmt == "messages":
        return _check_messages(row.get("messages"), where)
    required = ("instruction", "output") if fmt == "instruction" else ("text", "label")
    problems = [f"{where}, field `{name}`: missing or empty" for name in required
                if row.get(name) is None or not str(row.get(name)).strip()]
    texts = ("instruction", "input", "output", "system") if fmt == "instruction" else ("text",)
    return problems + [f"{where}, field `{name}`: expected text, got {type(row[name]).__name__}"
                       for name in texts if row.get(name) is not None and not isinstance(row[name], str)]


def load(path_or_sample: str) -> Dataset:
    """Read, detect and validate a dataset; raise DataError with every problem."""
    path = resolve_path(path_or_sample)
    rows, lines, problems = read_rows(path)
    fmt, reason = detect_format(rows, path.name)
    for row, line in zip(rows, lines):
        problems += _check_row(fmt, row, f"{path.name}, line {line}")
    if problems:
        raise DataError(problems)
    labels = sorted({str(r["label"]).strip() for r in rows}) if fmt == "classification" else []
    if fmt == "classification" and len(labels) < 2:
        raise DataError([f"{path.name}: only one label ({labels[0]!r}); classification needs at least two"])
    return Dataset(path, fmt, reason, rows, lines, labels)


def to_messages(fmt: str, row: dict) -> list[dict]:
    """A chat-format conversation from a messages or instruction row."""
    if fmt == "messages":
        return [{"role": t["role"], "content": t["content"]} for t in row["messages"]]
    prompt = row["instruction"] + (f"\n\n{row['input']}" if str(row.get("input") or "").strip() else "")
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    return messages + [{"role": "user", "content": prompt}, {"role": "assistant", "content": row["output"]}]


def split(items: list, val_fraction: float, seed: int) -> tuple[list, list]:
    """Shuffle with `seed` and hold out `val_fraction` (at least one item when the fraction is positive)."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n_val = 0 if val_fraction <= 0 or len(items) < 2 else max(1, round(len(items) * val_fraction))
    return items[n_val:], items[:n_val]


def summary(ds: Dataset) -> str:
    """A short markdown description of a loaded dataset."""
    text = f"**{ds.path.name}**: {len(ds.rows)} rows, format **{ds.format}** ({ds.reason}); task: **{ds.task}**."
    if ds.labels:
        counts = Counter(str(r["label"]).strip() for r in ds.rows)
        text += " Labels: " + ", ".join(f"{k} ({counts[k]})" for k in ds.labels) + "."
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
