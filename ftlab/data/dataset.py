"""Load a dataset: read the file, map its columns, detect (or take) the format, validate every row, clean, split.

Problems are collected, not raised one by one: a DataError lists every one with its file, line and field.
Formats and column mapping live in ftlab.data.formats, file reading in ftlab.data.readers, cleaning in ftlab.data.cleaning.
"""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ftlab import paths
from ftlab.data import cleaning
from ftlab.data.formats import FORMATS, apply_columns, check_row, detect, expected, guess_columns, guess_headerless
from ftlab.data.formats import looks_headerless, to_messages  # noqa: F401 - to_messages is part of this module's API
from ftlab.data.readers import DataError, Problem, Table, Where, read_table

SAMPLES = {
    "pirate_chat": ("samples/pirate_chat.jsonl", "chat",
                    "160 chats teaching a pirate voice: replies open with 'Arr!' and end with ⚓"),
    "sentiment": ("samples/sentiment.csv", "classify", "240 reviews labelled positive / negative"),
    "concise_pairs": ("samples/concise_pairs.jsonl", "preference",
                      "260 preference pairs: a short direct answer chosen over a rambling one (DPO, ORPO, KTO)"),
}


@dataclass
class Dataset:
    path: Path
    format: str
    reason: str
    rows: list[dict]
    lines: list[int]
    """The line (or row number, see `unit`) each row came from, for messages that point at it."""
    unit: str = "line"
    columns: list[str] = field(default_factory=list)
    """The file's own column names."""
    mapping: dict[str, str] = field(default_factory=dict)
    """Format field -> file column, where they differ."""
    labels: list[str] = field(default_factory=list)
    cleaning: cleaning.CleanReport = field(default_factory=cleaning.CleanReport)
    label_like: list[str] = field(default_factory=list)
    """Columns left unused that look like class labels (few values, repeated): a chat or text dataset with one
    is most likely a classification file mapped by half, and the UI asks before training a language model."""
    chosen: bool = False
    """The format was chosen by the person (`reason` says so in English), not detected."""
    detected: str = ""
    """What detection found when the format was chosen ("" if nothing)."""
    layout: str = ""
    """How the file was laid out when that was not the usual (semicolon-separated, headerless, ...), in English."""
    unused: list[str] = field(default_factory=list)
    """The file's columns no field of the format uses."""
    mapped: str = ""
    """How the columns were mapped onto the format's fields: a key of MAPPED, or "" (as they were)."""

    @property
    def task(self) -> str:
        return FORMATS[self.format].task


def sample_path(name: str) -> Path:
    return paths.ASSETS / SAMPLES[name][0]


def resolve_path(path_or_sample: str) -> Path:
    """A bundled sample's name, or a file path."""
    if path_or_sample in SAMPLES:
        return sample_path(path_or_sample)
    return Path(path_or_sample).expanduser()


def _file_columns(table: Table) -> list[str]:
    if table.header is not None:
        return list(table.header)
    keys = [k for row in table.rows[:100] if isinstance(row, dict) for k in row]
    return list(dict.fromkeys(keys))


MAPPED = {"yours": "your column mapping", "headerless": "no header line: the column whose values repeat is the label",
          "by_name": "columns matched by name"}
"""How a file's columns were mapped onto the format's fields (Dataset.mapped) -> in English."""


def _map(table: Table, fmt: str, columns: dict | None) -> tuple[Table, dict[str, str], str]:
    """(table, field -> column mapping, how it was chosen: a key of MAPPED or "") before the format is detected."""
    columns = {k: v for k, v in (columns or {}).items() if v}
    twice = sorted({c for c in columns.values() if list(columns.values()).count(c) > 1})
    if twice:
        raise DataError([_mapped_twice(c, [f for f, v in columns.items() if v == c]) for c in twice],
                        _file_columns(table))
    if columns:
        if table.header is not None and not set(columns.values()) <= set(table.header):
            table = table.without_header()
        return table, columns, "yours"
    names = _file_columns(table)
    if table.header is not None and looks_headerless(table.header, table.rows):
        table = table.without_header()
        return table, guess_headerless(table.rows, _file_columns(table)), "headerless"
    wanted = FORMATS[fmt].needed if fmt in FORMATS else None
    found = detect(set(names))
    if (found is None and wanted is None) or (wanted and not set(wanted) <= set(names)):
        mapping = guess_columns(names)
        return table, mapping, "by_name" if mapping else ""
    return table, {}, ""


def _mapped_twice(column: str, fields: list[str]) -> Problem:
    return Problem("mapped_twice", Where("columns"), f"column {column!r} is mapped to more than one field "
                   f"({', '.join(fields)}); map each field to its own column", column=column, fields=", ".join(fields))


def _format(rows: list, fmt: str, name: str, columns: list[str]):
    keys = set().union(*(r for r in rows[:100] if isinstance(r, dict))) if rows else set()
    found = detect(keys)
    if fmt:
        if fmt not in FORMATS:
            raise DataError([Problem("unknown_format", Where(name), f"format {fmt!r} is not one of "
                                     f"{', '.join(FORMATS)}", format=fmt, formats=", ".join(FORMATS))], columns)
        chosen = FORMATS[fmt]
        missing = [f for f in chosen.needed if f not in keys]
        if missing:
            needs, have = ", ".join(f"`{m}`" for m in missing), ", ".join(map(str, columns)) or "none"
            raise DataError([Problem("format_needs", Where(name), f"format {fmt} needs {needs}; the file's columns "
                                     f"are {have}: map one to each", format=fmt, needs=needs, columns=have)],
                            columns)
        return chosen, f"{chosen.reason}; chosen by you" + (f" (detected: {found.name})" if found else ""), found
    if found is None:
        have = ", ".join(sorted(map(str, columns))) or "none"
        raise DataError([Problem("no_format", Where(name), f"first row: columns found: {have}. Expected one of: "
                                 f"{expected()}. Map your columns to these fields.", columns=have,
                                 expected=expected())], columns)
    return found, found.reason, None


def _label_kind(value) -> str:
    if isinstance(value, bool) or (isinstance(value, str) and not re.fullmatch(r"\s*-?[\d.eE+-]+\s*", value)):
        return "name"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "name"
    return "int" if number == int(number) else "fraction"


def _check_labels(rows: list, places: list[int], name: str, unit: str) -> list[str]:
    """Fractions are refused (not classes); whole numbers and names may not be mixed. Normalises labels to text."""
    problems, kinds = [], {"int": [], "name": []}
    for row, place in zip(rows, places):
        value = row.get("label") if isinstance(row, dict) else None
        if value is None or str(value).strip() == "":
            continue
        kind = _label_kind(value)
        if kind == "fraction":
            problems.append(Problem("label_fraction", Where(name, unit, place, "label"), f"{value!r} has a "
                                    "fraction; classification labels are names or whole numbers", value=repr(value)))
            continue
        kinds[kind].append(place)
        row["label"] = str(int(float(value))) if kind == "int" else str(value)
    if kinds["int"] and kinds["name"]:
        show = {k: ", ".join(map(str, v[:5])) + (" ..." if len(v) > 5 else "") for k, v in kinds.items()}
        problems.append(Problem("mixed_labels", Where(name), f"mixed label types: whole numbers ({unit}s "
                                f"{show['int']}) and names ({unit}s {show['name']}); use one kind",
                                numbers=show["int"], names=show["name"]))
    return problems


def _sorted_labels(rows: list[dict]) -> list[str]:
    found = {r["label"] for r in rows}
    numeric = all(re.fullmatch(r"-?\d+", v) for v in found)
    return sorted(found, key=lambda v: (int(v), "") if numeric else (0, v))


def load(path_or_sample: str, max_mb: float = 200, max_rows: int = 0, fmt: str = "",
         columns: dict | None = None) -> Dataset:
    """Read, map, detect (or take `fmt`) and validate a dataset; raise DataError with every problem.

    The last few results are kept, keyed by the file itself (device, inode, size, modification time) and the
    options: the Data tab validates a file on upload and its insight panel reads it again. Treat the rows as read-only."""
    path = resolve_path(path_or_sample)
    try:
        stat = path.stat()
    except OSError:
        raise DataError([Problem("no_file", Where(Path(path).name), "no such file")]) from None
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, max_mb, max_rows, fmt,
           tuple(sorted((columns or {}).items())))  # the file, not its name: a run's linked copy of an upload hits
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    ds = _load(path, max_mb, max_rows, fmt, columns)
    with _CACHE_LOCK:
        _CACHE[key] = ds
        while len(_CACHE) > 3:
            _CACHE.popitem(last=False)
    return ds


_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()


def _load(path: Path, max_mb: float, max_rows: int, fmt: str, columns: dict | None) -> Dataset:
    table = read_table(path, max_mb)
    table, mapping, how = _map(table, fmt, columns)
    file_columns = _file_columns(table)
    rows, places = apply_columns(table.rows, mapping), table.places
    if max_rows:
        rows, places = rows[:max_rows], places[:max_rows]
    report = cleaning.CleanReport()
    rows, places = cleaning.strip_and_drop_empty(rows, places, report)
    if not rows:
        raise DataError(table.problems or [Problem("all_empty", Where(path.name), "every row is empty")],
                        file_columns)
    not_objects = [Problem("not_object", Where(path.name, table.unit, p), "expected an object with fields, got "
                           f"{type(r).__name__}", got=type(r).__name__)
                   for r, p in zip(rows, places) if not isinstance(r, dict)]
    if not_objects:
        raise DataError(table.problems + not_objects, file_columns)
    chosen, reason, detected = _format(rows, fmt, path.name, file_columns)
    problems = list(table.problems)
    for row, place in zip(rows, places):
        problems += check_row(chosen, row, Where(path.name, table.unit, place))
    if chosen.labelled:
        problems += _check_labels(rows, places, path.name, table.unit)
    if problems:
        raise DataError(problems, file_columns)
    rows, places = cleaning.drop_duplicates(rows, places, report)
    labels = _sorted_labels(rows) if chosen.labelled else []
    if chosen.labelled:
        if len(labels) < 2:
            raise DataError([Problem("one_label", Where(path.name), f"only one label ({labels[0]!r}); "
                                     "classification needs at least two", label=labels[0])], file_columns)
        report.conflicts = cleaning.find_conflicts(rows, places, path.name, table.unit)
    notes = [MAPPED[how]] if how else []
    notes += [", ".join(f"`{c}` → {f}" for f, c in mapping.items())] if mapping else []
    notes += [table.layout] if table.layout else []
    used = {mapping.get(f, f) for f in chosen.fields}
    unused = [c for c in file_columns if c not in used]
    label_like = [c for c in unused if not chosen.labelled and looks_like_labels([r.get(c) for r in
                                                                                        table.rows])]
    notes += ["not used: " + ", ".join(f"`{c}`" for c in unused)] if unused else []
    reason += "".join(f"; {n}" for n in notes)
    return Dataset(path, chosen.name, reason, rows, places, table.unit, file_columns, mapping, labels, report,
                   label_like, bool(fmt), detected.name if detected else "", table.layout, unused, how)


def looks_like_labels(values: list) -> bool:
    """A column of short texts or whole numbers, with at most 20 distinct values each repeated on average
    (sentiment, topic, 0/1): what a classification file's label column holds."""
    present = [str(v).strip() for v in values if isinstance(v, (str, int)) and str(v).strip()]
    distinct = set(present)
    return (len(present) >= 4 and 2 <= len(distinct) <= 20 and len(distinct) <= len(present) / 2
            and all(len(v) <= 40 for v in distinct))


def load_config(dc) -> Dataset:
    """The training file of a DataConfig."""
    return load(dc.path, dc.max_file_mb, dc.max_rows, dc.format, dc.columns)


@dataclass
class Splits:
    dataset: Dataset
    train: list[dict]
    val: list[dict]
    val_source: str
    """Where the validation rows come from, in English: a file's name, or how many rows were held out."""
    held_out: dict = field(default_factory=dict)
    """The same as facts, for the UI's words: {"n", "total", "fraction", "stratified"} (empty for a file)."""


def load_validation(path: str, train: Dataset, columns: dict | None, max_mb: float = 200) -> Dataset:
    """A separate validation file, read in the training file's format; its labels must all be known."""
    val = load(path, max_mb, 0, train.format, columns)
    unknown = sorted(set(val.labels) - set(train.labels))
    if unknown:
        raise DataError([Problem("unknown_labels", Where(val.path.name), "labels not in the training file: "
                                 f"{', '.join(unknown)}", labels=", ".join(unknown))])
    return val


def load_splits(dc, seed: int) -> Splits:
    """Training and validation rows of a DataConfig: a separate validation file, or a seeded (stratified) share."""
    ds = load_config(dc)
    if dc.val_path:
        val = load_validation(dc.val_path, ds, dc.columns, dc.max_file_mb)
        return Splits(ds, ds.rows, val.rows, val.path.name)
    key = (lambda r: r["label"]) if FORMATS[ds.format].labelled else None
    train, val = split(ds.rows, dc.val_fraction, seed, key=key)
    facts = {"n": len(val), "total": len(ds.rows), "fraction": f"{dc.val_fraction:g}", "stratified": key is not None}
    how = (f"{len(val)} of {len(ds.rows)} rows held out (data.val_fraction {facts['fraction']}, at least one)"
           + (", stratified by label" if key else ""))
    return Splits(ds, train, val, how if val else "none", facts if val else {})


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


def preview(ds: Dataset, n: int = 5) -> list[list[str]]:
    """The first `n` rows as the cells of a table: [input, answer or label], or a format's own (its `headers`)."""
    out = []
    for row in ds.rows[:n]:
        if FORMATS[ds.format].preview is not None:
            out.append(FORMATS[ds.format].preview(row))
        elif ds.format == "text":
            out.append([row["text"], ""])
        elif FORMATS[ds.format].labelled:
            pair = f"  ‖  {row['text_pair']}" if ds.format == "sentence_pair" else ""
            out.append([row["text"] + pair, row["label"]])
        else:
            msgs = to_messages(ds.format, row)
            turns = len([m for m in msgs if m["role"] == "assistant"])
            more = f"  (+{turns - 1} more turns)" if turns > 1 else ""
            out.append([next(m["content"] for m in msgs if m["role"] == "user"),
                        next(m["content"] for m in msgs if m["role"] == "assistant") + more])
    return out
