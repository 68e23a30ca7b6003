"""Exact match: the fraction of generated texts equal to their reference once surrounding spaces are stripped."""

import evaluate

from ftlab.metrics._module import TEXT, info


class ExactMatch(evaluate.Metric):
    def _info(self):
        return info(__doc__, TEXT, TEXT)

    def _compute(self, predictions, references):
        hits = sum(p.strip() == r.strip() for p, r in zip(predictions, references))
        return {"exact_match": hits / len(references) if references else 0.0}
