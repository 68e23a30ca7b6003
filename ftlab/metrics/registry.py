"""Every metric a run reports, once: its name (`eval_<name>` in metrics.jsonl and the status), the tasks that
measure it, which way is better, its scale and where it is shown. Early stopping, config validation, the
dashboard and the report read it here; a new metric is its `evaluate` module in this folder plus one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    tasks: tuple[str, ...] = ()
    """The tasks that measure it; () for every task (the validation loss)."""
    higher_is_better: bool = True
    scale: float = 1.0
    """What it is divided by to share the eval plot's 0-1 axis (BLEU and chrF are 0-100)."""
    from_loss: bool = False
    """Computed from the token losses (drawn on the loss plot and kept for both sides of the report)."""
    headline: bool = False
    """Shown in the dashboard's line of latest values."""
    plotted: bool = True
    """Drawn on the eval plot's 0-1 axis (log-probabilities and margins are not shares: the table shows them)."""


CHAT, CLASSIFY, PREFERENCE = ("chat",), ("classify",), ("preference",)
METRICS = {m.name: m for m in (
    Metric("loss", higher_is_better=False, from_loss=True, headline=True),
    Metric("perplexity", CHAT, higher_is_better=False, from_loss=True, headline=True),
    Metric("accuracy", CLASSIFY, headline=True),
    Metric("f1_macro", CLASSIFY, headline=True),
    Metric("f1_micro", CLASSIFY),
    Metric("precision", CLASSIFY),
    Metric("recall", CLASSIFY),
    Metric("bleu", CHAT, scale=100, headline=True),
    Metric("chrf", CHAT, scale=100),
    Metric("rougeL", CHAT, headline=True),
    Metric("exact_match", CHAT),
    Metric("preference_accuracy", PREFERENCE, headline=True),
    Metric("reward_accuracy", PREFERENCE, headline=True),
    Metric("reward_margin", PREFERENCE, plotted=False),
    Metric("logps_chosen", PREFERENCE, plotted=False),
    Metric("logps_rejected", PREFERENCE, higher_is_better=False, plotted=False),
    Metric("kl", PREFERENCE, higher_is_better=False, plotted=False),
)}


def register(metric: Metric) -> Metric:
    """Make a metric known (a new task's, say): early stopping can watch it, the dashboard plots it."""
    METRICS[metric.name] = metric
    return metric


def get(key: str) -> Metric | None:
    """The metric of a key as runs write it (`eval_accuracy`) or by its name (`accuracy`); None if unknown."""
    return METRICS.get(key.removeprefix("eval_"))


def keys(task: str | None = None, **where) -> list[str]:
    """The `eval_<name>` keys of the metrics measured for `task` (all tasks: None) with the given attributes
    (`from_loss=False`, `headline=True`), in the registry's order."""
    return [f"eval_{m.name}" for m in METRICS.values() if (task is None or not m.tasks or task in m.tasks)
            and all(getattr(m, k) == v for k, v in where.items())]
