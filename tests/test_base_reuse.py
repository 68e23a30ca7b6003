"""The base model's evaluation (step 0) is measured once per base, data and evaluation settings: a second run
that changes only what the base's answers do not depend on takes it from the first, and a run that changes one
of those measures again."""

from __future__ import annotations

import pytest

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir


def run_with(model, **settings) -> RunDir:
    cfg = RunConfig(task="chat", model=str(model), method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.max_steps, cfg.train.precision = 1, "fp32"
    cfg.eval.generate_rows, cfg.eval.report_rows, cfg.eval.max_new_tokens = 2, 2, 8
    for key, value in settings.items():
        cfg.set(key, value)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run


def step0(run: RunDir) -> dict:
    return next(m for m in run.metrics() if m["step"] == 0)


@pytest.mark.slow
def test_a_second_run_on_the_same_base_and_data_reuses_the_base_evaluation(tiny_llama):
    first = run_with(tiny_llama, learning_rate=5e-3)
    second = run_with(tiny_llama, learning_rate=1e-3, **{"lora.r": 4})  # nothing the base's answers depend on
    assert "base_reused_from" not in first.status() or first.status()["base_reused_from"] is None
    assert second.status()["base_reused_from"] == first.id
    assert second.read_json("base.json") == first.read_json("base.json")
    assert {k: v for k, v in step0(second).items() if k != "time"} == \
        {k: v for k, v in step0(first).items() if k != "time"}
    assert [s["base"] for s in second.metrics("samples") if s["step"] == 0] == \
        [s["base"] for s in first.metrics("samples") if s["step"] == 0]

    other = run_with(tiny_llama, learning_rate=1e-3, **{"eval.max_new_tokens": 9})  # the base answers differently
    assert other.status().get("base_reused_from") is None
    split = run_with(tiny_llama, learning_rate=1e-3, seed=7)  # another validation split
    assert split.status().get("base_reused_from") is None
