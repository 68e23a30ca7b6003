"""Accuracy: the fraction of predicted labels equal to their reference (0 for no rows)."""

import evaluate

from ftlab.metrics._module import LABEL, info


class Accuracy(evaluate.Metric):
    def _info(self):
        return info(__doc__, LABEL, LABEL)

    def _compute(self, predictions, references):
        hits = sum(p == r for p, r in zip(predictions, references))
        return {"accuracy": hits / len(references) if references else 0.0}
