"""How a run's models are seen during evaluation, and what the evaluations' history says.

The base model's side is `base_view()`: the adapter switched off, or for full and freeze runs the weights before
the first step (greedy answers of a frozen base never change, so they are taken once). What the validation split
asks, how a model answers and which metrics that gives are the run's task's (ftlab.tasks).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

from ftlab import methods

def base_view(model, method_name: str):
    """(model to call, context) that answer as the base model. For full and freeze runs that is the model itself,
    so call it before the first step."""
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        return model, nullcontext
    if methods.get(method_name).prompt_learning:
        return model.get_base_model(), lambda: saved_heads_off(model)
    return model, model.disable_adapter


@contextmanager
def saved_heads_off(model):
    """Switch off the trained copies of modules a PEFT model saves whole (a classifier head), so the base model's
    own modules answer. PEFT's disable_adapter does this too, but fails for prompt-learning classifiers."""
    from peft.utils.other import ModulesToSaveWrapper

    wrappers = [m for m in model.modules() if isinstance(m, ModulesToSaveWrapper)]
    for wrapper in wrappers:
        wrapper.enable_adapters(False)
    try:
        yield
    finally:
        for wrapper in wrappers:
            wrapper.enable_adapters(True)


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
