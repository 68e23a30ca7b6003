"""Gradient checkpointing only where memory needs it: batch by batch.

Length-grouped batches differ a lot in size: most rows of an instruction set are short, a few fill the max
length. Storing every layer's activations for the short batches is fastest; for a long batch they can take
gigabytes (on a CPU SDPA keeps each layer's attention weights, which grow with the square of the length). So each
batch's activation memory is estimated from its shape, and a batch over the budget recomputes its activations in
the backward pass instead of storing them (about a third more compute, for those batches only).

`train.gradient_checkpointing: true` recomputes for every batch; `train.activation_budget_mb` sets the budget
(0: auto: 1 GB on a CPU, a quarter of the GPU's memory on a GPU).
"""

from __future__ import annotations

FLOATS_PER_TOKEN_LAYER = 18
"""Activations stored per token, layer and hidden unit when nothing is recomputed (inputs of the norms, the
attention projections and the MLP, and what their backward needs), for a typical decoder or encoder block."""


def shape_of(model) -> tuple[int, int, int]:
    """(hidden size, layers, attention heads) from the model's config (under a PEFT wrapper too)."""
    config = model.config
    return (getattr(config, "hidden_size", 768), getattr(config, "num_hidden_layers", 12),
            getattr(config, "num_attention_heads", 12))


def activation_mb(model, rows: int, length: int, bytes_per_float: int = 4) -> float:
    hidden, layers, heads = shape_of(model)
    per_layer = rows * length * hidden * FLOATS_PER_TOKEN_LAYER + rows * heads * length * length
    return per_layer * layers * bytes_per_float / 2**20


def budget_mb(setting: float, device: str) -> float:
    if setting > 0:
        return setting
    if device == "cuda":
        import torch

        return torch.cuda.get_device_properties(0).total_memory / 4 / 2**20
    return 1024.0


class Policy:
    """Turns checkpointing on for the batches over the budget and off for the rest (a flag on each layer)."""

    def __init__(self, model, always: bool, budget: float):
        self.model, self.always, self.budget = model, always, budget
        self.on = None
        self.used = 0
        """Batches that were recomputed, for the run's record."""

    def prepare(self, rows: int, length: int) -> None:
        want = self.always or activation_mb(self.model, rows, length) > self.budget
        self.used += want
        if want == self.on:
            return
        if want:
            self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            self.model.gradient_checkpointing_disable()
        self.on = want
