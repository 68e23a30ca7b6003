"""Tasks' own settings: a section of a RunConfig for the task that reads it (`preference`), each field with its help
text (the docstring under it) and a `problems(section)` check, as the methods' sections are (ftlab.methods.settings).

Imports nothing of ftlab but the checks (ftlab.config builds on this module)."""

from __future__ import annotations

from dataclasses import dataclass

from ftlab import checks

LOSSES = ("dpo", "ipo", "orpo", "kto")


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
