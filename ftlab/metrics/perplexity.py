"""Perplexity: exp of the mean negative log-likelihood per scored token.

Takes, per row, the summed token loss (`predictions`) and the number of tokens it was summed over
(`references`), so rows of different lengths weigh by their tokens, as in the eval loss.
"""

import math

import datasets
import evaluate

from ftlab.metrics._module import info


class Perplexity(evaluate.Metric):
    def _info(self):
        return info(__doc__, datasets.Value("float64"), datasets.Value("int64"))

    def _compute(self, predictions, references):
        tokens = sum(references)
        return {"perplexity": math.exp(min(sum(predictions) / tokens, 700)) if tokens else float("nan")}
