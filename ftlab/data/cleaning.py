"""Cleaning before validation and training, each step counted so the UI can show what it did.

Strip whitespace from every text, drop rows with nothing in them, drop exact duplicates, and (classification)
list conflicting duplicates: the same text under different labels, which no model can learn.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from ftlab.data.readers import Problem, Where


@dataclass
class CleanReport:
    stripped: int = 0
    """Rows in which some text had leading or trailing whitespace."""
    empty_dropped: int = 0
    duplicates_dropped: int = 0
    conflicts: list[str] = field(default_factory=list)


def _strip(value):
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is dict:
        return {k: _strip(v) for k, v in value.items()}
    if kind is list:
        return [_strip(v) for v in value]
    return value


def _blank(row) -> bool:
    return isinstance(row, dict) and all(v is None or v == "" or v == [] for v in row.values())


def strip_and_drop_empty(rows: list, lines: list[int], report: CleanReport) -> tuple[list, list[int]]:
    kept_rows, kept_lines = [], []
    for row, line in zip(rows, lines):
        clean = _strip(row)
        report.stripped += clean != row
        if _blank(clean):
            report.empty_dropped += 1
            continue
        kept_rows.append(clean)
        kept_lines.append(line)
    return kept_rows, kept_lines


def drop_duplicates(rows: list, lines: list[int], report: CleanReport) -> tuple[list, list[int]]:
    seen, kept_rows, kept_lines = set(), [], []
    for row, line in zip(rows, lines):
        key = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
        if key in seen:
            report.duplicates_dropped += 1
            continue
        seen.add(key)
        kept_rows.append(row)
        kept_lines.append(line)
    return kept_rows, kept_lines


def find_conflicts(rows: list, lines: list[int], name: str, unit: str = "line") -> list[str]:
    """Texts (or text pairs) that appear under more than one label, with their lines."""
    by_text = defaultdict(list)
    for row, line in zip(rows, lines):
        text = row["text"] + (f" ‖ {row['text_pair']}" if row.get("text_pair") else "")
        by_text[text].append((str(row["label"]), line))
    out = []
    for text, seen in by_text.items():
        labels = sorted({label for label, _ in seen})
        if len(labels) > 1:
            places, both = ", ".join(str(line) for _, line in seen), " and ".join(labels)
            out.append(Problem("label_conflict", Where(name, f"{unit}s", places), f"{text[:60]!r} is labelled {both}",
                               sample=repr(text[:60]), labels=", ".join(labels)))
    return out
