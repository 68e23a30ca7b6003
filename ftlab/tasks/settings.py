"""Tasks' own settings: a section of a RunConfig for the task that reads it (`preference`, `classify`), each field
with its help text (the docstring under it) and a `problems(section)` check, as the methods' sections are
(ftlab.methods.settings).

Imports nothing of ftlab but the checks (ftlab.config builds on this module)."""

from __future__ import annotations

from dataclasses import dataclass

from ftlab import checks

LOSSES = ("dpo", "ipo", "orpo", "kto")
HEAD_INITS = ("random", "probe")


@dataclass
class PreferenceConfig:
    loss: str = "orpo"
    """orpo (no reference model: the chosen reply's token loss plus an odds-ratio term) | dpo (sigmoid DPO) | ipo |
    kto (also for unpaired thumbs-up / down data). ORPO is the default: on the bundled sample it lifted held-out
    preference accuracy 0.04 -> 0.96 with short, right answers, where DPO at the same settings reached 0.54 and
    answered nonsense (benchmarks/RESULTS.md)."""
    beta: float = 0.1
    """How far from the reference the policy may move (DPO, IPO, KTO), or the weight of ORPO's odds-ratio term."""
    desirable_weight: float = 1.0
    """KTO: the weight of a desirable reply's loss."""
    undesirable_weight: float = 1.0
    """KTO: the weight of an undesirable reply's loss."""

    def problems(self, section: str = "preference") -> list:
        return [*checks.one_of(f"{section}.loss", self.loss, LOSSES), *checks.positive(f"{section}.beta", self.beta),
                *checks.positive(f"{section}.desirable_weight", self.desirable_weight),
                *checks.positive(f"{section}.undesirable_weight", self.undesirable_weight)]


@dataclass
class ClassifyConfig:
    head_init: str = "random"
    """random (the head as transformers initialises it) | probe (the new classification head starts as a linear
    probe: a logistic regression fitted on the base model's features of up to 2,000 training rows, then everything
    trains; "LP-FT"). On the bundled sentiment set with MiniLM a probed head starts at 61 % instead of chance, and
    short runs gain most: one epoch of LoRA at the suggested settings 89.8 % instead of 87.8 %, at 0.4x their learning
    rate 82.8 % instead of 49.8 %; two epochs end alike (benchmarks/RESULTS.md)."""

    def problems(self, section: str = "classify") -> list:
        return [*checks.one_of(f"{section}.head_init", self.head_init, HEAD_INITS)]
