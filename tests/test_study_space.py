"""What an auto-tune study searches: a trial's learning rate is its factor times the method's default, scaled with
the batch it trains at, and the study's first trial is the config's own settings."""

from __future__ import annotations

import math

import pytest

from ftlab.config import RunConfig
from ftlab.runs import study_space
from ftlab.train import defaults


def made(batch: int = 16) -> tuple[RunConfig, dict]:
    facts = defaults.Facts("classify", "lora", rows=2000, val_rows=500, params=22_000_000)
    cfg = RunConfig(task="classify", model="m", method="lora")
    for choice in defaults.choose(facts):
        cfg.set(choice.key, choice.value)
    cfg.train.batch_size = batch
    return cfg, study_space.space(cfg, facts, fits_full=True)


def params(sp: dict, **over) -> dict:
    """A trial's parameters as study_space.suggest gives them (a rank only for a method that has one)."""
    found = {"method": "lora", "lr_scale": 1.0, "epochs": 2, "batch_size": 16, "warmup_ratio": 0.0, **over}
    return {**found, "lora_r": 8} if found["method"] in ("lora", "dora") else found


def test_a_trial_at_another_batch_takes_a_learning_rate_scaled_by_the_square_root_of_the_ratio():
    cfg, sp = made()
    assert sp["batch_size"] == [8, 16, 32] and sp["base_batch"] == 16
    lr = {b: study_space.settings(params(sp, batch_size=b), sp)["learning_rate"] for b in sp["batch_size"]}
    assert lr[16] == pytest.approx(sp["base_lr"]["lora"], rel=1e-3)
    assert lr[32] == pytest.approx(lr[16] * math.sqrt(2), rel=1e-2)
    assert lr[8] == pytest.approx(lr[16] / math.sqrt(2), rel=1e-2)
    full = study_space.settings(params(sp, method="full", lr_scale=2.0), sp)
    assert full["learning_rate"] == pytest.approx(2 * sp["base_lr"]["full"], rel=1e-2) and "lora.r" not in full


def test_the_first_trial_is_the_configs_own_settings_whatever_its_batch():
    for batch in (8, 16, 32):
        cfg, sp = made()
        cfg.train.batch_size, cfg.train.learning_rate = batch, 7e-4
        found = study_space.settings(study_space.first(cfg, sp), sp)
        assert found["batch_size"] == batch and found["learning_rate"] == pytest.approx(7e-4, rel=1e-2)
        assert found["epochs"] == cfg.train.epochs and found["lora.r"] == cfg.lora.r


def test_a_study_made_before_the_batch_scaling_keeps_its_unscaled_learning_rates():
    _, sp = made()
    del sp["base_batch"]  # as a study.json written before it has it
    assert study_space.settings(params(sp, batch_size=32), sp)["learning_rate"] == pytest.approx(
        sp["base_lr"]["lora"], rel=1e-3)
