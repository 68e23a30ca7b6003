"""Fine-tuning methods, one small class each, in one registry.

A method says how to load the base (quantised or not), how to make it trainable, and whether the result is
an adapter (one copy of the base, switched off and on for comparison) or a full set of weights.
Adding a method is one class here plus one line in METHODS.
"""

from __future__ import annotations

import importlib.util

PEFT_TASK = {"chat": "CAUSAL_LM", "classify": "SEQ_CLS"}


class Method:
    name = ""
    label = ""
    help = ""
    adapter = False
    """True when the method trains an adapter on a frozen base (saved to adapter/), False for full weights."""

    def unavailable(self) -> str:
        """Why this method cannot run on this machine ('' when it can)."""
        return ""

    def quantization(self, compute_dtype):
        """A transformers quantization config for loading the base, or None."""
        return None

    def apply(self, model, cfg):
        """Make `model` trainable for this method and return it."""
        raise NotImplementedError


class Full(Method):
    name, label = "full", "Full fine-tuning"
    help = "Updates every weight. Best quality, most memory (weights + gradients + 2 optimizer states)."

    def apply(self, model, cfg):
        for param in model.parameters():
            param.requires_grad_(True)
        return model


class Lora(Method):
    name, label, adapter = "lora", "LoRA", True
    help = "Freezes the base and trains small low-rank updates. A few MB to save, little memory."

    def peft_config(self, cfg):
        from peft import LoraConfig

        targets = cfg.lora.targets.strip()
        targets = targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()]
        return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=targets, task_type=PEFT_TASK[cfg.task])

    def apply(self, model, cfg):
        from peft import get_peft_model

        return get_peft_model(model, self.peft_config(cfg))


class QLora(Lora):
    name, label = "qlora", "QLoRA (4-bit NF4)"
    help = "LoRA on a base quantised to 4-bit NF4: the least memory; a little slower per step."

    def unavailable(self) -> str:
        if importlib.util.find_spec("bitsandbytes") is None:
            return "needs the bitsandbytes package"
        return ""

    def quantization(self, compute_dtype):
        from transformers import BitsAndBytesConfig

        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute_dtype)

    def apply(self, model, cfg):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return super().apply(model, cfg)


METHODS: dict[str, Method] = {m.name: m for m in (Lora(), QLora(), Full())}


def get(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
