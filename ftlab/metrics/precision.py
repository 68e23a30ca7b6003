"""Precision, averaged `macro` (the mean over classes, each counted once) or `micro` (pooled over rows).

A class never predicted has precision 0; pass `labels` to count classes absent from both lists too.
"""

import evaluate

from ftlab.metrics import counts
from ftlab.metrics._module import LABEL, info


class Precision(evaluate.Metric):
    def _info(self):
        return info(__doc__, LABEL, LABEL)

    def _compute(self, predictions, references, average="macro", labels=None):
        return {"precision": counts.scores(predictions, references, average, labels)[0]}
