"""Early stopping: end a run when its eval metric has stopped improving for `patience` evaluations.

Any metric of the registry (ftlab.metrics.registry) its task measures can be watched, in the direction the
registry gives (lower is better for a loss or perplexity). Its state goes into checkpoints, so a resumed run keeps
counting where it left off.
"""

from __future__ import annotations

from ftlab.metrics import registry


def lower_is_better(metric: str) -> bool:
    return not registry.get(metric).higher_is_better


class EarlyStopping:
    """Counts evaluations without improvement of one metric; `update` says when patience has run out."""

    def __init__(self, metric: str, patience: int, state: dict | None = None):
        self.metric, self.patience = metric, patience
        self.best, self.best_step, self.bad = (state or {}).get("best"), (state or {}).get("best_step"), \
            (state or {}).get("bad", 0)

    def update(self, step: int, result: dict) -> bool:
        value = result.get(self.metric)
        if not self.patience or value is None:
            return False
        better = self.best is None or (value < self.best if lower_is_better(self.metric) else value > self.best)
        if better:
            self.best, self.best_step, self.bad = value, step, 0
        else:
            self.bad += 1
        return self.bad >= self.patience

    def state(self) -> dict:
        return {"best": self.best, "best_step": self.best_step, "bad": self.bad}
