"""Before Start: how many parameters a run will train, and roughly how much memory it needs.

The model is built on PyTorch's meta device from its config (no weights are read, nothing is allocated) and the
method is applied to it, so the trainable count is exact. Memory is an estimate: weights at their stored width,
gradients and optimizer states for the trainable part, and activations for one batch.
"""

from __future__ import annotations

from ftlab import methods, modeling, tasks
from ftlab.train import precision, recompute
from ftlab.config import RunConfig

OPTIMIZER_BYTES = {"adamw": 8, "sgd": 4, "adafactor": 1, "adamw_8bit": 2}
"""Optimizer state per trainable parameter (fp32 moments; Adafactor factorises them)."""


def _meta_model(cfg: RunConfig, path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
    with torch.device("meta"):
        if tasks.get(cfg.task).model_kind == "sequence_classification":
            config.num_labels = 2
            return AutoModelForSequenceClassification.from_config(config, trust_remote_code=cfg.trust_remote_code)
        return AutoModelForCausalLM.from_config(config, trust_remote_code=cfg.trust_remote_code)


def _trainable(cfg: RunConfig, model) -> tuple[int, int, int, object]:
    """(trainable, total, base) parameter counts after applying the run's method to `model`, and the model."""
    import torch

    base = sum(p.numel() for p in model.parameters())
    method = methods.get(cfg.method)
    with torch.device("meta"):  # the method's new layers too: initialising them on the CPU would be work done in
        applied = method.apply_to_estimate(model, cfg)  # this thread, see ftlab.train.threads
    trainable, total = methods.trainable_parameters(applied)
    return trainable, total, base, applied


def estimate(cfg: RunConfig, fetch: bool = True) -> dict:
    """{"trainable", "total", "percent", "memory_gb", "parts"}: parameter counts and a memory estimate in GB.
    With `fetch` False a model not yet on this machine raises modeling.NotFetched instead of being fetched."""
    path = modeling.resolve(cfg.model_ref(), fetch).path
    with modeling.building:
        model = _meta_model(cfg, path)
        trainable, total, base, applied = _trainable(cfg, model)
    width = methods.get(cfg.method).weight_bytes(cfg)
    parts = {
        "weights": base * width + (total - base) * 4,
        "gradients": trainable * 4,
        "optimizer": trainable * OPTIMIZER_BYTES.get(cfg.train.optimizer, 8),
        "activations": _activations(cfg, applied),
    }
    return {"trainable": trainable, "total": total, "percent": 100 * trainable / max(total, 1),
            "memory_gb": sum(parts.values()) / 1e9, "parts": {k: v / 1e9 for k, v in parts.items()},
            "precision": precision.explain(cfg.train.precision, modeling.device())}


def _activations(cfg: RunConfig, model) -> float:
    """Bytes of the largest batch's activations at their peak (every token scored, the worst case), after the
    layers ftlab.train.recompute would recompute for it."""
    estimate = recompute.Estimate(model)
    rows, length = cfg.train.batch_size * tasks.get(cfg.task).rows_held(cfg), cfg.train.max_length
    scored = rows * length if tasks.get(cfg.task).model_kind == "causal_lm" else 0  # logits only where trained
    budget = recompute.budget_mb(cfg.train.activation_budget_mb, modeling.device()) * 2**20
    layers = estimate.layers if cfg.train.gradient_checkpointing else estimate.layers_to_recompute(
        rows, length, scored, budget)
    return estimate.peak(rows, length, scored, layers)
