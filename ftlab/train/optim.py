"""Optimizers and learning-rate schedules by name, for the trainable parameters of a run.

Optimizers: adamw, sgd (momentum 0.9), adafactor (fixed learning rate), adamw_8bit (bitsandbytes, 8-bit states).
Schedules: linear, cosine, constant; each with `warmup_ratio` of the steps warming up linearly.
"""

from __future__ import annotations

import importlib.util

OPTIMIZERS = ("adamw", "sgd", "adafactor", "adamw_8bit")
SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


def unavailable(name: str) -> str:
    if name == "adamw_8bit" and importlib.util.find_spec("bitsandbytes") is None:
        return "adamw_8bit needs the bitsandbytes package"
    return ""


def optimizer(name: str, params: list, lr: float, weight_decay: float):
    """The optimizer `name` over `params`: tensors, or parameter groups ({"params": [...], "lr": ...})."""
    import torch

    if name == "adamw":  # one fused kernel per step on a GPU instead of several per parameter
        tensors = [p for g in params for p in (g["params"] if isinstance(g, dict) else [g])]
        fused = bool(tensors) and all(p.is_cuda for p in tensors)
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **({"fused": True} if fused else {}))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=lr, weight_decay=weight_decay, relative_step=False, scale_parameter=False,
                         warmup_init=False)
    if name == "adamw_8bit":
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"train.optimizer: {name!r} is not one of {', '.join(OPTIMIZERS)}")


def scheduler(name: str, opt, warmup_steps: int, total_steps: int):
    from transformers import get_scheduler

    if name not in SCHEDULERS:
        raise ValueError(f"train.scheduler: {name!r} is not one of {', '.join(SCHEDULERS)}")
    return get_scheduler(SCHEDULERS[name], opt, num_warmup_steps=warmup_steps, num_training_steps=total_steps)
