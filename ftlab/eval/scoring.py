"""What a run's evaluations over time say: the overfitting warning. How the base model is seen is the method's
(ftlab.methods: `base_view`); what the validation split asks, how a model answers and which metrics that gives
are the run's task's (ftlab.tasks).
"""

from __future__ import annotations

from ftlab.events import Event


def overfitting(history: list[tuple[int, float, float]], k: int) -> str:
    """A warning when, over the last `k` evaluations of `history` [(step, eval loss, train loss)], the eval loss
    rose every time while the train loss fell; else ""."""
    span = history[-(k + 1):]
    if not k or len(span) <= k:
        return ""
    rising = all(b[1] > a[1] for a, b in zip(span, span[1:]))
    if not rising or span[-1][2] >= span[0][2]:
        return ""
    (first_step, first, train_first), (last_step, last, train_last) = span[0], span[-1]
    facts = {"k": k, "first": f"{first:.4f}", "first_step": first_step, "last": f"{last:.4f}", "last_step": last_step,
             "train_first": f"{train_first:.4f}", "train_last": f"{train_last:.4f}"}
    return Event("overfitting", "possible overfitting: eval loss rose {k} evaluations in a row ({first} at step "
                 "{first_step} -> {last} at step {last_step}) while train loss fell ({train_first} -> {train_last}); "
                 "consider early stopping or fewer epochs".format(**facts), **facts)
