"""Classify a whole file with the base and the tuned model: one row per text, both labels with their
probability, whether they agree, and, when the file has labels, whether each is right.

Any file the Data tab reads works (CSV, TSV, JSON(L), Parquet, TXT); the text column is found as for training
data (`text`, `sentence`, `review`... or a sentence pair), else the first column.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from ftlab.data.formats import guess_columns
from ftlab.data.readers import DataError, Problem, Where, read_table

CHUNK = 64


def columns(rows: list[dict]) -> tuple[str, str | None, str | None]:
    """(text column, second text column or None, label column or None)."""
    names = list(rows[0])
    mapping = {**{n: n for n in names if n in ("text", "text_pair", "label")}, **guess_columns(names)}
    text = mapping.get("text") or names[0]
    return text, mapping.get("text_pair"), mapping.get("label")


def _best(probs: dict) -> tuple[str, float]:
    label = max(probs, key=probs.get)
    return label, round(probs[label], 4)


def classify_file(classify, path: str | Path, max_mb: float = 200, folder: Path | None = None, chunk: int = CHUNK
                  ) -> tuple[list[dict], Path]:
    """`classify(texts)` gives [{"base": {label: p}, "tuned": {...}}] for up to `chunk` texts at a time; returns
    the result rows and a CSV of them."""
    table = read_table(Path(path), max_mb)
    rows = [r if isinstance(r, dict) else {"text": str(r)} for r in table.rows]
    text, pair, label = columns(rows)
    empty = [Problem("no_text", Where(Path(path).name, table.unit, p), f"no text in column {text!r}", column=text)
             for r, p in zip(rows, table.places) if not str(r.get(text) or "").strip()]
    if empty:
        raise DataError(empty)
    items = [[str(r[text]), str(r[pair])] if pair else str(r[text]) for r in rows]
    out = []
    for i in range(0, len(items), chunk):
        for row, item, result in zip(rows[i:i + chunk], items[i:i + chunk], classify(items[i:i + chunk])):
            (base, base_p), (tuned, tuned_p) = _best(result["base"]), _best(result["tuned"])
            line = {"text": row[text], **({"text_pair": row[pair]} if pair else {}), "base": base, "base_p": base_p,
                    "tuned": tuned, "tuned_p": tuned_p, "agree": base == tuned}
            if label:
                gold = str(row.get(label))
                line.update(label=gold, base_right=base == gold, tuned_right=tuned == gold)
            out.append(line)
    target = Path(folder or tempfile.mkdtemp(prefix="ftlab-batch-")) / f"{Path(path).stem}-predictions.csv"
    with open(target, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    return out, target
