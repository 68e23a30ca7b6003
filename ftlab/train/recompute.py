"""Gradient checkpointing only where memory needs it: batch by batch, and only in as many layers as it takes.

Length-grouped batches differ a lot in size: most rows of an instruction set are short, a few fill the max
length. Storing every layer's activations for the short batches is fastest; for a long batch they can take
gigabytes (SmolLM2-135M with LoRA stores ~2.1 MB per token). So each batch's activation memory is estimated from
its shape, and when it is over the budget the first k layers recompute their activations in the backward pass
instead of storing them, k just large enough for the rest to fit: a checkpointed layer keeps only its input and,
while its gradient is computed, its own activations once more. A recomputed layer costs about a third more
compute, so a batch a little over the budget pays for a few layers, not for all of them.

`train.gradient_checkpointing: true` recomputes every layer of every batch; `train.activation_budget_mb` sets the
budget (0: auto: 1 GB on a CPU, a quarter of the GPU's memory on a GPU). The estimate counts what the autograd
graph keeps per token and layer (checked against the tensors autograd actually saves in tests/test_checkpointing.py):
about 10 hidden-size vectors in attention and the norms, 4 intermediate-size vectors in a gated MLP (2 in a plain
one), the input and the dropout mask of every LoRA layer with dropout, the attention weights when the attention
is not a fused kernel (eager, or SDPA with attention dropout), and the output layer's log-probabilities at the
trained positions (three of them at the backward pass's peak).
"""

from __future__ import annotations

FLOAT = 4
"""Bytes per stored activation (fp32; a bf16 autocast run stores some in half the width: the estimate stays high)."""
FUSED = ("sdpa", "flash_attention_2", "flash_attention_3")
"""Attention kernels that keep no attention weights for the backward pass (SDPA: only without attention dropout)."""
LOGITS_AT_PEAK = 3
"""Vocabulary-wide vectors per scored token at the peak: the log-probabilities kept for the backward pass, then
their gradient and the logits' gradient while the output layer's backward runs."""


def shape_of(model) -> tuple[int, int, int]:
    """(hidden size, layers, attention heads) from the model's config (under a PEFT wrapper too)."""
    config = model.config
    return (getattr(config, "hidden_size", 768), getattr(config, "num_hidden_layers", 12),
            getattr(config, "num_attention_heads", 12))


def _lora_inputs(model) -> float:
    """Floats per token and layer that LoRA layers with dropout keep: each one's dropped-out input, plus its mask
    (a byte per value: a quarter of a float)."""
    import torch

    kept = 0.0
    for module in model.modules():
        dropout = getattr(module, "lora_dropout", None)
        if isinstance(dropout, torch.nn.ModuleDict) and any(isinstance(d, torch.nn.Dropout) for d in dropout.values()):
            kept += 1.25 * getattr(module, "in_features", 0)
    return kept / max(shape_of(model)[1], 1)


class Estimate:
    """Activation bytes of a batch by shape, worked out once for a model."""

    def __init__(self, model):
        import torch

        hidden, self.layers, self.heads = shape_of(model)
        config = model.config
        self.hidden = hidden
        gated = any(name.endswith(("gate_proj", "gate_up_proj")) for name, _ in model.named_modules())
        mlp = (4 if gated else 2) * getattr(config, "intermediate_size", 4 * hidden)
        self.per_token_layer = (10 * hidden + mlp + _lora_inputs(model)) * FLOAT
        dropout = max(getattr(config, "attention_dropout", 0) or 0, getattr(config, "attention_probs_dropout_prob", 0) or 0)
        fused = not dropout and getattr(config, "_attn_implementation", "sdpa") in FUSED
        self.per_square = 0 if fused else 3 * self.heads * FLOAT  # attention weights, their dropout and its mask
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        self.vocab = head.out_features if isinstance(head, torch.nn.Linear) else 0  # a classifier scores no vocabulary

    def layer(self, rows: int, length: int) -> float:
        """Bytes one layer stores for a batch."""
        return rows * length * self.per_token_layer + rows * length * length * self.per_square

    def total(self, rows: int, length: int, trained: int = 0) -> float:
        """Bytes the whole batch stores with nothing recomputed (`trained`: tokens the output layer scores)."""
        return self.layers * self.layer(rows, length) + trained * self.vocab * FLOAT * LOGITS_AT_PEAK

    def peak(self, rows: int, length: int, trained: int, recomputed: int) -> float:
        """Bytes at the peak when the first `recomputed` layers keep only their input and recompute the rest, one
        layer at a time, in the backward pass."""
        layer, kept = self.layer(rows, length), rows * length * self.hidden * FLOAT
        return self.total(rows, length, trained) - recomputed * (layer - kept) + (layer if recomputed else 0)

    def layers_to_recompute(self, rows: int, length: int, trained: int, budget_bytes: float) -> int:
        """The fewest layers to recompute for the peak to fit the budget (all of them if it never does)."""
        for k in range(self.layers + 1):
            if self.peak(rows, length, trained, k) <= budget_bytes:
                return k
        return self.layers


def budget_mb(setting: float, device: str) -> float:
    if setting > 0:
        return setting
    if device == "cuda":
        import torch

        return torch.cuda.get_device_properties(0).total_memory / 4 / 2**20
    return 1024.0


def _layers(model) -> list:
    """The model's blocks that can recompute themselves (transformers' GradientCheckpointingLayer)."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def _enable(model) -> None:
    """Recomputation on in every block (transformers 5.2x names it activation checkpointing)."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


class Policy:
    """Before each batch, turns recomputation on in the first k layers (k from the estimate) and off in the rest."""

    def __init__(self, model, always: bool, budget: float):
        self.model, self.always, self.budget = model, always, budget
        self.estimate = Estimate(model)
        self.blocks: list | None = None
        self.on = None
        self.used = 0
        """Batches that recomputed at least one layer, for the run's record."""
        self.recomputed = 0
        """Layers recomputed over all batches."""

    @classmethod
    def for_run(cls, model, train, device: str) -> "Policy":
        """The policy a run's training settings ask for (`train.gradient_checkpointing`, its activation budget)."""
        return cls(model, train.gradient_checkpointing, budget_mb(train.activation_budget_mb, device))

    def prepare(self, rows: int, length: int, trained: int = 0) -> int:
        """Set the layers up for a batch of `rows` x `length` (`trained` tokens scored); the layers recomputed."""
        n = self.estimate.layers if self.always else self.estimate.layers_to_recompute(
            rows, length, trained, self.budget * 2**20)
        self.used += n > 0
        self.recomputed += n
        self.set_layers(n)
        return n

    def off(self) -> None:
        """Every layer stores its activations again (after a trial, before the run's own policy takes over)."""
        self.set_layers(0)

    def set_layers(self, n: int) -> None:
        """Recompute in the first `n` layers, store in the rest."""
        if self.blocks is None and n:
            _enable(self.model)
            self.blocks = _layers(self.model)
        if self.blocks:  # per layer
            want = tuple(i < n for i in range(len(self.blocks)))
            if want != self.on:
                for block, flag in zip(self.blocks, want):
                    block.gradient_checkpointing = flag
                self.on = want
        elif bool(n) != self.on:  # a model whose blocks can't: all or nothing
            if n:
                _enable(self.model)
            elif self.on:
                getattr(self.model, "activation_checkpointing_disable", self.model.gradient_checkpointing_disable)()
            self.on = bool(n)
