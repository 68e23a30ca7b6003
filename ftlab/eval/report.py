"""The base-vs-tuned report of a run: metrics side by side with their delta, and one row per validation example.

What a row holds is the run's task's (ftlab.tasks): a classifier's says whether the tuned model fixed, broke or
left unchanged each prediction (and the report holds both confusion matrices); a chat row holds both replies and
a score each (sentence chrF, 0-100) with the improvement. Everything in it is recomputable from its rows;
`csv_text()` gives the rows as CSV.
"""

from __future__ import annotations

import csv
import io

from ftlab import tasks
from ftlab.config import RunConfig
from ftlab.metrics import registry
from ftlab.tasks import Cases

LOSS_KEYS = tuple(registry.keys(from_loss=True))


def _side(found: dict, computed: dict) -> dict:
    kept = {k.removeprefix("eval_"): found[k] for k in LOSS_KEYS if k in found}
    return {**kept, **computed}


def _delta(base: dict, tuned: dict) -> dict:
    return {k: tuned[k] - base[k] for k in base
            if k in tuned and isinstance(base[k], (int, float)) and isinstance(tuned[k], (int, float))}


def build(cfg: RunConfig, labels: list[str], val: Cases, base: dict, tuned: dict, step: int,
          weights_of: int | None = None) -> dict:
    """The report from the base and tuned {"metrics", "answers"} on the validation cases: the task compares the
    answers (its metrics, one row per case, and what else it shows); the losses come from the evaluations.
    `weights_of`: the step whose weights the run kept, when it went back to an earlier one (early stopping)."""
    compared = tasks.get(cfg.task).compare(labels, val, base["answers"], tuned["answers"])
    b, t, rows = compared.pop("base"), compared.pop("tuned"), compared.pop("rows")
    base_side, tuned_side = _side(base["metrics"], b), _side(tuned["metrics"], t)
    return {"task": cfg.task, "step": step, "weights_of": weights_of or step, "rows_compared": len(rows),
            "labels": labels, "base": base_side, "tuned": tuned_side, "delta": _delta(base_side, tuned_side),
            "rows": rows, **compared}


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
