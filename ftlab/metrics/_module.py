"""The shape every ftlab metric module shares: an `evaluate.Metric` whose inputs are the given feature types."""

from __future__ import annotations

import datasets
import evaluate


def info(description: str, predictions, references) -> evaluate.MetricInfo:
    return evaluate.MetricInfo(description=description, citation="", inputs_description=description,
                               features=datasets.Features({"predictions": predictions, "references": references}))


LABEL = datasets.Value("int64")
TEXT = datasets.Value("string")
