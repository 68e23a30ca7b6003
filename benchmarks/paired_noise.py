"""How far apart two runs' validation accuracies must be to tell them apart, when both are measured on the same rows.

For every pair of completed classification runs in an FTLAB_HOME (a study's trials, say), from each run's report
(the label it gave each validation row): the rows where exactly one of the two is right, and the standard error of
the difference of their accuracies measured on the same rows, sqrt((b + c) / n - d^2) / sqrt(n) (b, c: the rows
only one of them got right; d = (b - c) / n), beside the error of two independent accuracies, sqrt(2 p (1 - p) / n),
which an auto-tune study's margin (ftlab.runs.study_clock.margin) is written in.

Run: .venv/bin/python benchmarks/paired_noise.py FTLAB_HOME
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path


def right(report: Path) -> list[bool] | None:
    rows = json.loads(report.read_text()).get("rows") or []
    return [r["tuned"] == r["label"] for r in rows] if rows and "label" in rows[0] else None


def main(home: str) -> None:
    runs = {p.parent.name: r for p in sorted(Path(home, "runs").glob("*/report.json")) if (r := right(p))}
    for (a, x), (b, y) in itertools.combinations(runs.items(), 2):
        n = len(x)
        if n != len(y):
            continue
        only_a = sum(p and not q for p, q in zip(x, y))
        only_b = sum(q and not p for p, q in zip(x, y))
        d = (only_a - only_b) / n
        paired = math.sqrt(max((only_a + only_b) / n - d * d, 0.0) / n)
        p = (sum(x) + sum(y)) / (2 * n)
        print(f"{a} {b}: {100 * sum(x) / n:.1f} % / {100 * sum(y) / n:.1f} %, {only_a + only_b} of {n} rows differ, "
              f"paired SE {100 * paired:.2f} points, independent {100 * math.sqrt(2 * p * (1 - p) / n):.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
