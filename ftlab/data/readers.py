"""Read a dataset file into rows: CSV, TSV, JSONL, JSON, Parquet or TXT, optionally gzipped.

Text may be UTF-8, UTF-8 with a BOM, or UTF-16 with a BOM. Each row comes with the place it was read from (a
line, or a row number where a file has no lines), so every later message can point at it; lines that fail to
parse are returned as problems, so they are reported together with the problems of the rows that did parse.
CSV and TSV keep their first line apart (`Table.header`): whether it is a header is decided later, by ftlab.data.dataset.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

from ftlab.events import Event

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt")


class Where(str):
    """Where a problem is, as English text (`reviews.csv, line 3, field `label``) and as parts the UI writes in
    the person's language: file, unit ("line" or "row", or None) and place, column, field."""

    def __new__(cls, file: str, unit: str | None = None, place: int | None = None, field: str | None = None,
                column: int | None = None, path: str | None = None):
        text = (file + (f", {unit} {place}" if unit else "") + (f", column {column}" if column else "")
                + (f", field `{field}`" if field else "") + (f", {path}" if path else ""))
        obj = super().__new__(cls, text)
        obj.parts = {"file": file, "unit": unit, "place": place, "field": field or path, "column": column}
        return obj

    def at(self, field: str) -> "Where":
        """The same place, in `field`."""
        return Where(self.parts["file"], self.parts["unit"], self.parts["place"], field)

    def inside(self, path: str) -> "Where":
        """The same place, inside a field (`messages[1].role`)."""
        return Where(self.parts["file"], self.parts["unit"], self.parts["place"], path=path)


class Problem(Event):
    """One data problem: its English text (what the CLI, the API and logs show) with a code and fields, from which
    the UI writes it in the person's language (its locale key: problem.<code>)."""

    def __new__(cls, code: str, where: Where | str, text: str, **fields):
        return super().__new__(cls, code, f"{where}: {text}",
                               **{**getattr(where, "parts", {"file": str(where)}), **fields})


class DataError(Exception):
    """Bad data; `problems` holds every problem found, each naming the file and line."""

    def __init__(self, problems: list[str], columns: list[str] | None = None):
        self.problems = problems
        self.columns = columns or []
        """The file's columns when it could be read, so the user can map them."""
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        super().__init__("\n".join(shown))


@dataclass
class Table:
    rows: list
    places: list[int]
    """The line (or row number, see `unit`) each row starts at."""
    problems: list[str] = field(default_factory=list)
    unit: str = "line"
    layout: str = ""
    """How the file was split into rows, when that is worth saying (TXT)."""
    header: list[str] | None = None
    """CSV / TSV: the first line's cells, used as column names in `rows`."""
    records: list[list[str]] | None = None
    """CSV / TSV: the cells of every later line, for reading the file again without a header."""

    def without_header(self) -> "Table":
        """The same CSV / TSV read with no header: its first line is data, columns are column_1, column_2..."""
        cells = [self.header] + self.records
        names = [f"column_{i + 1}" for i in range(max(len(c) for c in cells))]
        rows = [dict(zip(names, c + [None] * (len(names) - len(c)))) for c in cells]
        return Table(rows, [1] + self.places, [p for p in self.problems if getattr(p, "code", "") != "extra_fields"],
                     layout=self.layout, header=None, records=None)


def _utf16_without_bom(raw: bytes) -> bool:
    sample = raw[:4096]
    return len(sample) >= 4 and (sample[1::2].count(0) > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4)


def decode(name: str, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if b"\x00" in raw[:4096]:
        if _utf16_without_bom(raw):
            raise DataError([Problem("utf16_no_bom", Where(name), "looks like UTF-16 text without a byte-order "
                                     "mark; save it as UTF-8 (or UTF-16 with a BOM)")])
        raise DataError([Problem("binary", Where(name), "this is a binary file, not text (CSV, TSV, JSONL, JSON or "
                                 "TXT expected)")])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataError([Problem("not_utf8", Where(name, "line", line, column=column), f"not valid UTF-8 "
                                 f"({exc.reason}); save the file as UTF-8")]) from None


TOO_DEEP = "JSON nested too deeply to read (lists or objects inside each other hundreds of levels deep)"


def _jsonl(name: str, raw: bytes) -> Table:
    table = Table([], [])
    for number, line in enumerate(decode(name, raw).splitlines(), 1):
        if not line.strip():
            continue
        try:
            table.rows.append(json.loads(line))
            table.places.append(number)
        except json.JSONDecodeError as exc:
            table.problems.append(Problem("invalid_json", Where(name, "line", number, column=exc.colno),
                                          f"invalid JSON ({exc.msg})"))
        except RecursionError:
            table.problems.append(Problem("too_deep", Where(name, "line", number), TOO_DEEP))
    return table


def _array_lines(text: str) -> list[int]:
    """The line each element of a top-level JSON array starts on."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    decoder, places = json.JSONDecoder(), []
    index = text.index("[") + 1
    while True:
        while index < len(text) and text[index] in " \t\r\n,":
            index += 1
        if index >= len(text) or text[index] == "]":
            return places
        places.append(bisect_right(newlines, index - 1) + 1)
        index = decoder.raw_decode(text, index)[1]


def _json(name: str, raw: bytes) -> Table:
    text = decode(name, raw)
    if not text.strip():
        raise DataError([Problem("empty_file", Where(name), "the file is empty")])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError([Problem("invalid_json", Where(name, "line", exc.lineno, column=exc.colno),
                                 f"invalid JSON ({exc.msg})")]) from None
    except RecursionError:
        raise DataError([Problem("too_deep", Where(name), TOO_DEEP)]) from None
    if isinstance(data, list):
        return Table(data, _array_lines(text))
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list)]
        if len(lists) != 1:
            found = ", ".join(lists) or "none"
            raise DataError([Problem("json_lists", Where(name), "a JSON object must hold exactly one list of rows "
                                     f"(found {len(lists)}: {found})", n=len(lists), found=found)])
        return Table(data[lists[0]], list(range(1, len(data[lists[0]]) + 1)), unit="row")
    raise DataError([Problem("json_not_rows", Where(name), "expected a JSON array of rows (or an object holding "
                             f"one), got {type(data).__name__}", got=type(data).__name__)])


def _sniff(text: str, delimiter: str) -> str:
    """A CSV whose first line has no commas but semicolons (or tabs) uses those: Excel writes `;` in many locales."""
    first = text.split("\n", 1)[0]
    if delimiter == "," and "," not in first:
        return next((d for d in ";\t|" if d in first), delimiter)
    return delimiter


def _delimited(name: str, raw: bytes, delimiter: str) -> Table:
    text = decode(name, raw)
    delimiter = _sniff(text, delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, records, places, problems, line = None, [], [], [], 0
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells) and header is None:
                continue
            if header is None:
                header = [c.strip() for c in cells]
                continue
            if len(cells) > len(header):
                problems.append(Problem("extra_fields", Where(name, "line", start), f"{len(cells)} fields, more "
                                        f"fields than the header has columns ({len(header)})", n=len(cells),
                                        columns=len(header)))
            records.append(cells)
            places.append(start)
    except csv.Error as exc:
        raise DataError([Problem("bad_csv", Where(name, "line", reader.line_num), str(exc), detail=str(exc))]) from None
    if header is None:
        raise DataError([Problem("empty_file", Where(name), "the file is empty")])
    rows = [dict(zip(header, c + [None] * (len(header) - len(c)))) for c in records]
    layout = {";": "semicolon-separated", "\t": "tab-separated", "|": "pipe-separated"}.get(delimiter, "")
    return Table(rows, places, problems, layout=layout if name.lower().endswith((".csv", ".csv.gz", ".txt")) else "",
                 header=header, records=records)


def _parquet(name: str, raw: bytes) -> Table:
    import pandas as pd

    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise DataError([Problem("bad_parquet", Where(name), f"not a readable Parquet file ({exc})",
                                 detail=str(exc)[:200])]) from None
    rows = json.loads(frame.to_json(orient="records", force_ascii=False))
    return Table(rows, list(range(1, len(rows) + 1)), unit="row")


def _txt(name: str, raw: bytes) -> Table:
    """One document per line; or, when the file has blank lines between paragraphs, one document per paragraph.
    A .txt whose every line has the same number of tabs is a table (Excel's "Unicode Text" export): read as TSV."""
    lines = decode(name, raw).splitlines()
    tabs = {line.count("\t") for line in lines[:200] if line.strip()}
    if len(tabs) == 1 and tabs != {0} and len([line for line in lines if line.strip()]) > 1:
        return _delimited(name, raw, "\t")
    table = Table([], [])
    if any(not line.strip() for line in lines[:-1]) and any(line.strip() for line in lines):
        table.layout = "documents separated by blank lines"
        start, buffer = 0, []
        for number, line in enumerate(lines + [""], 1):
            if line.strip():
                start = start or number
                buffer.append(line)
            elif buffer:
                table.rows.append({"text": "\n".join(buffer)})
                table.places.append(start)
                start, buffer = 0, []
        return table
    table.layout = "one document per line"
    for number, line in enumerate(lines, 1):
        if line.strip():
            table.rows.append({"text": line})
            table.places.append(number)
    return table


READERS = {
    ".jsonl": _jsonl,
    ".json": _json,
    ".csv": lambda name, raw: _delimited(name, raw, ","),
    ".tsv": lambda name, raw: _delimited(name, raw, "\t"),
    ".parquet": _parquet,
    ".txt": _txt,
}


def _gunzip(path: Path, max_mb: float) -> bytes:
    """A gzipped file's content, read in pieces and refused as soon as it passes `max_mb`: a few MB of gzip can
    unpack to gigabytes (a decompression bomb)."""
    limit, pieces, size = int(max_mb * 2**20), [], 0
    try:
        with gzip.open(path, "rb") as stream:
            while piece := stream.read(2**20):
                size += len(piece)
                if size > limit:
                    raise DataError([Problem("unpacks_too_big", Where(path.name), f"unpacks to more than {max_mb:g} "
                                             f"MB; the limit is {max_mb:g} MB (data.max_file_mb)", limit=f"{max_mb:g}")])
                pieces.append(piece)
    except (OSError, EOFError) as exc:
        raise DataError([Problem("bad_gzip", Where(path.name), f"not a readable gzip file ({exc})",
                                 detail=str(exc)[:200])]) from None
    return b"".join(pieces)


def _parquet_size_mb(raw: bytes) -> float:
    """The uncompressed size a Parquet file declares (its columns can be compressed a thousandfold too)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(io.BytesIO(raw)).metadata
    except Exception:  # noqa: BLE001 - a damaged file: the reader says what is wrong with it
        return 0.0
    return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) / 2**20


def _payload(path: Path, max_mb: float = 200) -> tuple[bytes, str]:
    """The file's bytes (un-gzipped, at most `max_mb` of them) and the suffix that says how to read them."""
    raw, inner = None, path
    if path.suffix.lower() == ".gz":
        raw = _gunzip(path, max_mb)
        inner = Path(path.stem)
    suffix = inner.suffix.lower()
    if suffix not in READERS:
        raise DataError([Problem("unsupported_type", Where(path.name), f"unsupported file type {suffix or '(none)'}; "
                                 f"use {', '.join(SUFFIXES)} (optionally .gz)", suffix=suffix or "(none)",
                                 types=", ".join(SUFFIXES))])
    raw = path.read_bytes() if raw is None else raw
    unpacked = _parquet_size_mb(raw) if suffix == ".parquet" else 0
    if unpacked > max_mb:
        raise DataError([Problem("unpacks_too_big", Where(path.name), f"holds {unpacked:.3g} MB of data "
                                 f"uncompressed; the limit is {max_mb:g} MB (data.max_file_mb)", limit=f"{max_mb:g}")])
    if not raw:
        raise DataError([Problem("empty_file", Where(path.name), "the file is empty (0 bytes)")])
    return raw, suffix


def read_table(path: Path, max_mb: float = 200) -> Table:
    """Rows of a dataset file, the place each came from, and lines that did not parse."""
    path = Path(path)
    if not path.is_file():
        raise DataError([Problem("no_file", Where(path.name), "no such file")])
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_mb:
        raise DataError([Problem("too_big", Where(path.name), f"the file is {size_mb:.3g} MB; the limit is "
                                 f"{max_mb:g} MB (data.max_file_mb)", size=f"{size_mb:.3g}", limit=f"{max_mb:g}")])
    raw, suffix = _payload(path, max_mb)
    table = READERS[suffix](path.name, raw)
    if not table.rows:
        if table.header is not None:
            raise DataError(table.problems or [Problem("header_only", Where(path.name), "the file has a header "
                                                       "line but no rows")], columns=table.header)
        raise DataError(table.problems or [Problem("no_rows", Where(path.name), "the file holds no rows")])
    return table
