"""Read a dataset file into rows: CSV, TSV, JSONL, JSON or Parquet, optionally gzipped.

Text may be UTF-8, UTF-8 with a BOM, or UTF-16 with a BOM. Each row comes with the line (or row number) it was
read from, so every later message can point at it; lines that fail to parse are returned as problems, so they
are reported together with the problems of the rows that did parse.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")


class DataError(Exception):
    """Bad data; `problems` holds every problem found, each naming the file and line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__("\n".join(shown))


def decode(name: str, raw: bytes) -> str:
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError([f"{name}: this is a binary file, not text (CSV, JSONL or JSON expected)"])
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError([f"{name}, line {line}: not valid UTF-8 ({exc.reason})"]) from None


def _jsonl(name: str, raw: bytes) -> tuple[list, list[int], list[str]]:
    rows, lines, problems = [], [], []
    for number, line in enumerate(decode(name, raw).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
            lines.append(number)
        except json.JSONDecodeError as exc:
            problems.append(f"{name}, line {number}, column {exc.colno}: invalid JSON ({exc.msg})")
    return rows, lines, problems


def _json(name: str, raw: bytes) -> tuple[list, list[int], list[str]]:
    try:
        data = json.loads(decode(name, raw))
    except json.JSONDecodeError as exc:
        raise DataError([f"{name}, line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"]) from None
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError([f"{name}: a JSON object must hold exactly one list of rows"])
        data = lists[0]
    if not isinstance(data, list):
        raise DataError([f"{name}: expected a JSON array of rows"])
    return data, list(range(1, len(data) + 1)), []


def _delimited(name: str, raw: bytes, delimiter: str) -> tuple[list, list[int], list[str]]:
    reader = csv.DictReader(io.StringIO(decode(name, raw), newline=""), delimiter=delimiter)
    rows, lines = [], []
    for row in reader:
        if None in row:
            raise DataError([f"{name}, line {reader.line_num}: more fields than the header has columns"])
        rows.append({k.strip(): v for k, v in row.items() if k is not None})
        lines.append(reader.line_num)
    return rows, lines, []


def _parquet(name: str, raw: bytes) -> tuple[list, list[int], list[str]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise DataError([f"{name}: not a readable Parquet file ({exc})"]) from None
    rows = json.loads(frame.to_json(orient="records", force_ascii=False))
    return rows, list(range(1, len(rows) + 1)), []


READERS = {
    ".jsonl": _jsonl,
    ".json": _json,
    ".csv": lambda name, raw: _delimited(name, raw, ","),
    ".tsv": lambda name, raw: _delimited(name, raw, "\t"),
    ".parquet": _parquet,
}


def read_rows(path: Path, max_mb: float = 200) -> tuple[list, list[int], list[str]]:
    """Rows of a dataset file, the line (or row number) each came from, and lines that did not parse."""
    path = Path(path)
    if not path.is_file():
        raise DataError([f"{path}: no such file"])
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_mb:
        raise DataError([f"{path.name} is {size_mb:.3g} MB; the limit is {max_mb:g} MB (data.max_file_mb)"])
    raw, inner = path.read_bytes(), path
    if path.suffix.lower() == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError([f"{path.name}: not a readable gzip file ({exc})"]) from None
        inner = Path(path.stem)
    suffix = inner.suffix.lower()
    if suffix not in READERS:
        raise DataError([f"{path.name}: unsupported file type {suffix or '(none)'}; "
                         f"use {', '.join(SUFFIXES)} (optionally .gz)"])
    rows, lines, problems = READERS[suffix](path.name, raw)
    if not rows:
        raise DataError(problems or [f"{path.name}: the file holds no rows"])
    return rows, lines, problems
