"""What a run's evaluations over time say: the overfitting warning. How the base model is seen is the method's
(ftlab.methods: `base_view`); what the validation split asks, how a model answers and which metrics that gives
are the run's task's (ftlab.tasks).
"""

from __future__ import annotations

def overfitting(history: list[tuple[int, float, float]], k: int) -> str:
    """A warning when, over the last `k` evaluations of `history` [(step, eval loss, train loss)], the eval loss
    rose every time while the train loss fell; else ""."""
    span = history[-(k + 1):]
    if not k or len(span) <= k:
        return ""
    rising = all(b[1] > a[1] for a, b in zip(span, span[1:]))
    if not rising or span[-1][2] >= span[0][2]:
        return ""
    return (f"possible overfitting: eval loss rose {k} evaluations in a row ({span[0][1]:.4f} at step {span[0][0]} -> "
            f"{span[-1][1]:.4f} at step {span[-1][0]}) while train loss fell ({span[0][2]:.4f} -> {span[-1][2]:.4f}); "
            "consider early stopping or fewer epochs")
