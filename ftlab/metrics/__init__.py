"""Evaluation metrics: `evaluate` modules written here and loaded by path (the Hub's copies need a network).

Classification: accuracy, macro and micro F1, macro precision and recall, a confusion matrix. Generation: BLEU,
chrF, ROUGE-L, exact match, and perplexity from token losses. `classification()` and `generation()` return them all
as one flat dict; `row_score()` is the per-example score the Results tab sorts by (sentence chrF, 0-100).
"""

from __future__ import annotations

import threading
from pathlib import Path

HERE = Path(__file__).parent
_loaded: dict = {}
_lock = threading.Lock()
_computing: dict[str, threading.Lock] = {}


def load(name: str):
    """The evaluate module `ftlab/metrics/<name>.py`, loaded once per process."""
    import evaluate

    with _lock:
        if name not in _loaded:
            _loaded[name] = evaluate.load(str(HERE / f"{name}.py"))
            _computing[name] = threading.Lock()
        return _loaded[name]


def compute(name: str, predictions, references, **options) -> dict:
    """One metric over whole lists. An evaluate module keeps the batch it computes on itself, so two runs
    evaluating at once (two users, or a run and a resumed one) take turns with each module."""
    module = load(name)
    with _computing[name]:
        return module.compute(predictions=list(predictions), references=list(references), **options)


def classification(predictions: list[int], references: list[int], n_labels: int) -> dict:
    """Accuracy, F1 (macro and micro), precision and recall (macro) and the confusion matrix over label ids."""
    labels = list(range(n_labels))
    result = compute("accuracy", predictions, references)
    result["f1_macro"] = compute("f1", predictions, references, average="macro", labels=labels)["f1"]
    result["f1_micro"] = compute("f1", predictions, references, average="micro", labels=labels)["f1"]
    result["precision"] = compute("precision", predictions, references, labels=labels)["precision"]
    result["recall"] = compute("recall", predictions, references, labels=labels)["recall"]
    result.update(compute("confusion_matrix", predictions, references, labels=labels))
    return result


def generation(predictions: list[str], references: list[str]) -> dict:
    """BLEU, chrF, ROUGE-L and exact match of generated texts against their references."""
    result = {}
    for name in ("bleu", "chrf", "rouge", "exact_match"):
        result.update(compute(name, predictions, references))
    return result


def perplexity(token_losses: list[float], token_counts: list[int]) -> float:
    return compute("perplexity", token_losses, token_counts)["perplexity"]


def row_score(prediction: str, reference: str) -> float:
    """One example's score, 0-100: sentence-level chrF."""
    import sacrebleu

    return sacrebleu.sentence_chrf(prediction, [reference]).score
