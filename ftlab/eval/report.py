"""The base-vs-tuned report of a run: metrics side by side with their delta, and one row per validation example.

Classification rows say whether the tuned model fixed, broke or left unchanged each prediction, and the report
holds both confusion matrices. Chat rows hold both replies and a score each (sentence chrF, 0-100) with the
improvement. Everything in it is recomputable from its rows; `csv_text()` gives the rows as CSV.
"""

from __future__ import annotations

import csv
import io

from ftlab.eval import metrics
from ftlab.eval.metrics import registry
from ftlab.config import RunConfig
from ftlab.eval.scoring import Cases

LOSS_KEYS = tuple(registry.keys(from_loss=True))


def _side(found: dict, computed: dict) -> dict:
    kept = {k.removeprefix("eval_"): found[k] for k in LOSS_KEYS if k in found}
    return {**kept, **computed}


def _delta(base: dict, tuned: dict) -> dict:
    return {k: tuned[k] - base[k] for k in base
            if k in tuned and isinstance(base[k], (int, float)) and isinstance(tuned[k], (int, float))}


def change(label: int, base: int, tuned: int) -> str:
    if base == tuned or (base != label and tuned != label):
        return "unchanged"
    return "fixed" if tuned == label else "broken"


def _classification(labels: list[str], val: Cases, base: list, tuned: list) -> tuple[dict, dict, list]:
    refs = val.references[: len(tuned)]
    b = metrics.classification([a[0] for a in base], refs, len(labels))
    t = metrics.classification([a[0] for a in tuned], refs, len(labels))
    rows = [{"text": text, "label": labels[ref], "base": labels[bp[0]], "base_p": round(bp[1], 4),
             "tuned": labels[tp[0]], "tuned_p": round(tp[1], 4), "change": change(ref, bp[0], tp[0])}
            for text, ref, bp, tp in zip(val.texts, refs, base, tuned)]
    return b, t, rows


def _generation(val: Cases, base: list, tuned: list) -> tuple[dict, dict, list]:
    n = min(len(base), len(tuned))
    refs = val.references[:n]
    rows = []
    for prompt, ref, b, t in zip(val.texts, refs, base, tuned):
        bs, ts = metrics.row_score(b, ref), metrics.row_score(t, ref)
        rows.append({"prompt": prompt, "reference": ref, "base": b, "tuned": t, "base_score": round(bs, 2),
                     "tuned_score": round(ts, 2), "improvement": round(ts - bs, 2)})
    return metrics.generation(base[:n], refs), metrics.generation(tuned[:n], refs), rows


def build(cfg: RunConfig, labels: list[str], val: Cases, base: dict, tuned: dict, step: int) -> dict:
    """The report from the base and tuned {"metrics", "answers"} on the validation cases."""
    if cfg.task == "classify":
        b, t, rows = _classification(labels, val, base["answers"], tuned["answers"])
        matrices = {"base": b.pop("confusion_matrix"), "tuned": t.pop("confusion_matrix")}
    else:
        b, t, rows = _generation(val, base["answers"], tuned["answers"])
        matrices = {}
    base_side, tuned_side = _side(base["metrics"], b), _side(tuned["metrics"], t)
    out = {"task": cfg.task, "step": step, "rows_compared": len(rows), "labels": labels,
           "base": base_side, "tuned": tuned_side, "delta": _delta(base_side, tuned_side), "rows": rows}
    if matrices:
        out["confusion_matrix"] = matrices
        out["changes"] = {c: sum(r["change"] == c for r in rows) for c in ("fixed", "broken", "unchanged")}
    return out


def metrics_table(result: dict, digits: int = 4) -> list[dict]:
    """[{metric, base, tuned, delta}] for display, rounded to `digits` places."""
    def shown(value):
        return round(value, digits) if isinstance(value, float) else value

    return [{"metric": k, "base": shown(result["base"][k]), "tuned": shown(result["tuned"].get(k)),
             "delta": shown(result["delta"].get(k))} for k in result.get("base", {})]


def csv_text(result: dict) -> str:
    rows = result.get("rows", [])
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
