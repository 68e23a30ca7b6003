"""Per-class counts shared by the classification metric modules (plain Python, no scikit-learn).

Conventions follow scikit-learn's with `zero_division=0`: a class never predicted has precision 0, a class
never present has recall 0, and macro averages take every class seen in the references or the predictions.
"""

from __future__ import annotations


def classes(predictions, references, labels=None) -> list:
    """The classes to report: `labels` when given, else every value seen, in first-seen order."""
    if labels is not None:
        return list(labels)
    return list(dict.fromkeys([*references, *predictions]))


def per_class(predictions, references, labels=None) -> dict:
    """{class: (true positives, false positives, false negatives)}."""
    counts = {c: [0, 0, 0] for c in classes(predictions, references, labels)}
    for p, r in zip(predictions, references):
        if p == r:
            counts.setdefault(p, [0, 0, 0])[0] += 1
        else:
            counts.setdefault(p, [0, 0, 0])[1] += 1
            counts.setdefault(r, [0, 0, 0])[2] += 1
    return {c: tuple(v) for c, v in counts.items() if labels is None or c in labels}


def ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def f1(precision: float, recall: float) -> float:
    return ratio(2 * precision * recall, precision + recall)


def scores(predictions, references, average: str = "macro", labels=None) -> tuple[float, float, float]:
    """(precision, recall, F1) averaged `macro` (mean over classes) or `micro` (pooled counts)."""
    counts = per_class(predictions, references, labels)
    if not counts:
        return 0.0, 0.0, 0.0
    if average == "micro":
        tp, fp, fn = (sum(c[i] for c in counts.values()) for i in range(3))
        p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
        return p, r, f1(p, r)
    if average != "macro":
        raise ValueError(f"average={average!r}: use 'macro' or 'micro'")
    per = [(ratio(tp, tp + fp), ratio(tp, tp + fn)) for tp, fp, fn in counts.values()]
    return (sum(p for p, _ in per) / len(per), sum(r for _, r in per) / len(per),
            sum(f1(p, r) for p, r in per) / len(per))
