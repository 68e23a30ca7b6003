"""The methods' own settings: one section per method family, each field with its help text (the docstring under
it) and a `problems(section)` check. A RunConfig holds them as its sections (`lora`, `freeze`, `quant`, `prompt`);
a method names the sections it reads (`Method.settings`), so the UI shows only those and validation names only
those a run uses. A method with settings of its own adds its section here and a field on RunConfig.

Imports nothing of ftlab but the checks (ftlab.config builds on this module)."""

from __future__ import annotations

from dataclasses import dataclass

from ftlab import checks


@dataclass
class LoraConfig:
    r: int = 16
    """Rank of the low-rank update."""
    alpha: int = 32
    """Scale of the update (alpha / r multiplies it)."""
    dropout: float = 0.0
    """Dropout on the LoRA input; 0 by default: on a CPU the random masks cost ~15% of a step."""
    targets: str = "all-linear"
    """`all-linear`, `attention` (the attention projections only), or a comma-separated list of module names."""

    def problems(self, section: str = "lora") -> list:
        return [*checks.at_least(f"{section}.r", self.r, 1), *checks.positive(f"{section}.alpha", self.alpha),
                *checks.below(f"{section}.dropout", self.dropout, 0, 1)]


@dataclass
class FreezeConfig:
    last_layers: int = 2
    """Method `freeze`: train only the last N transformer blocks, plus the head (and the final norm)."""

    def problems(self, section: str = "freeze") -> list:
        return checks.at_least(f"{section}.last_layers", self.last_layers, 1)


@dataclass
class QuantConfig:
    bits: int = 4
    """Method `qlora`: 4 (NF4) or 8 (LLM.int8) bit base weights."""
    double_quant: bool = True
    """4-bit only: quantise the quantisation constants too (saves ~0.4 bit per weight)."""
    compute_dtype: str = "auto"
    """auto (the run's precision) | fp32 | bf16 | fp16: the dtype the 4-bit weights are dequantised to."""

    def problems(self, section: str = "quant") -> list:
        return [*checks.one_of(f"{section}.bits", self.bits, (4, 8)),
                *checks.one_of(f"{section}.compute_dtype", self.compute_dtype, ("auto", "fp32", "bf16", "fp16"))]


@dataclass
class PromptConfig:
    virtual_tokens: int = 20
    """Prefix, prompt and P-tuning: how many trainable virtual tokens."""
    init_text: str = ""
    """Prompt tuning: start the virtual tokens from this text's embeddings (empty: random)."""

    def problems(self, section: str = "prompt") -> list:
        return checks.at_least(f"{section}.virtual_tokens", self.virtual_tokens, 1)


SECTIONS = {"lora": LoraConfig, "freeze": FreezeConfig, "quant": QuantConfig, "prompt": PromptConfig}
"""Section name (a RunConfig field) -> its settings."""
