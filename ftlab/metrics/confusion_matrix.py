"""Confusion matrix: rows are the reference labels, columns the predicted ones, in the order of `labels`."""

import evaluate

from ftlab.metrics import counts
from ftlab.metrics._module import LABEL, info


class ConfusionMatrix(evaluate.Metric):
    def _info(self):
        return info(__doc__, LABEL, LABEL)

    def _compute(self, predictions, references, labels=None):
        order = counts.classes(predictions, references, labels)
        index = {c: i for i, c in enumerate(order)}
        matrix = [[0] * len(order) for _ in order]
        for p, r in zip(predictions, references):
            if p in index and r in index:
                matrix[index[r]][index[p]] += 1
        return {"confusion_matrix": matrix}
