"""Checkpoints and the training loop's options: a stopped run resumes to the same losses as an uninterrupted one,
a damaged checkpoint is skipped and named, NaN stops a run at its step, early stopping, every optimizer and
schedule, gradient checkpointing."""

from __future__ import annotations

import math
import threading

import pytest

from ftlab import i18n
from ftlab.app.ui import dashboard, results_tab
from ftlab.train import engine
from ftlab.train import checkpoints
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir


def config(model, **train_settings) -> RunConfig:
    cfg = RunConfig(task="chat", model=str(model), method="lora")
    cfg.data.path, cfg.data.val_fraction = "pirate_chat", 0
    cfg.train.learning_rate, cfg.train.batch_size, cfg.train.max_length = 5e-3, 2, 64
    cfg.train.precision = "fp32"  # the same numbers on a CPU with bf16 units as on one without
    for key, value in train_settings.items():
        setattr(cfg.train, key, value)
    return cfg


def losses(run: RunDir) -> dict[int, float]:
    return {m["step"]: m["train_loss"] for m in run.metrics() if "train_loss" in m}


def stopped_at(cfg: RunConfig, step: int) -> RunDir:
    """A run that the user stopped (Stop and save) right after `step`."""
    run, stop = RunDir.create(cfg), threading.Event()
    result = engine.run(cfg, run, stop, on_event=lambda e: stop.set() if e.get("step") == step else None)
    assert (result.state, result.step) == ("stopped", step)
    return run


def test_a_stopped_run_resumes_to_the_losses_of_an_uninterrupted_one(tiny_llama):
    cfg = config(tiny_llama, max_steps=4, scheduler="cosine", warmup_ratio=0.3)
    straight = RunDir.create(cfg)
    assert engine.run(cfg, straight).state == "completed"
    run = stopped_at(cfg, 2)
    result = engine.run(cfg, run, resume=True)
    assert (result.state, result.step) == ("completed", 4)
    assert run.status()["resumed"] == "resumed from step 2"
    expected, got = losses(straight), losses(run)
    assert sorted(got) == [1, 2, 3, 4]
    assert all(math.isclose(got[s], expected[s], rel_tol=1e-4) for s in expected), (got, expected)


@pytest.mark.slow  # trains, damages and resumes (2-4 s): the quick lane stays under two minutes
def test_a_damaged_checkpoint_is_skipped_and_named(tiny_llama):
    cfg = config(tiny_llama, max_steps=4, save_every=1)
    run = stopped_at(cfg, 3)
    newest = checkpoints.folder(run.path) / "step-000003" / "trainable.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])  # cut short, as by a full disk
    result = engine.run(cfg, run, resume=True)
    assert (result.state, result.step) == ("completed", 4)
    note = run.status()["resumed"]
    assert note.startswith("resumed from step 2") and "step-000003: trainable.safetensors is 100 bytes" in note
    assert run.status()["resumed_event"] == {"code": "resumed_skipping", "fields": {
        "step": 2, "skipped": note.split("skipped damaged checkpoints: ")[1]}}
    fresh = RunDir.create(cfg)
    assert engine.run(cfg, fresh).state == "completed"  # a new run after it is fine


def test_nan_loss_stops_the_run_at_that_step_with_a_message(tiny_llama):
    cfg = config(tiny_llama, max_steps=50, learning_rate=1e30)  # the first update sends the adapter to ±1e30
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "failed" and result.step < 50
    assert "at step" in result.error and "lower the learning rate" in result.error
    assert engine.run(config(tiny_llama, max_steps=1), RunDir.create(config(tiny_llama, max_steps=1))).state == \
        "completed"


@pytest.mark.slow
def test_early_stopping_ends_a_run_whose_eval_loss_stops_improving(tiny_llama):
    cfg = config(tiny_llama, max_steps=40, eval_every=1, early_stopping_patience=2, learning_rate=3.0)
    cfg.data.val_fraction = 0.1
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "completed" and result.step < 40
    evals = {m["step"]: m["eval_loss"] for m in run.metrics() if "eval_loss" in m and m["step"] > 0}
    best = min(evals, key=evals.get)
    assert list(evals)[-2:] == [result.step - 1, result.step] and best < result.step - 1  # two without improving
    status = run.status()
    assert status["note"].startswith(f"stopped early at step {result.step}")
    assert status["note"].endswith("the run keeps that step's weights")
    assert status["note_event"]["code"] == "early_stopped_best" and status["note_event"]["fields"]["best_step"] == best
    # the saved adapter is the best evaluation's weights (its checkpoint, kept for this), not the last step's
    from safetensors.torch import load_file

    kept = load_file(run.path / "checkpoints" / f"step-{best:06d}" / "trainable.safetensors")
    saved = load_file(run.adapter_dir / "adapter_model.safetensors")
    assert saved and {n.replace(".default", "") for n in kept} == set(saved)
    assert all(kept[n].equal(saved[n.replace(".default", "")]) for n in kept)
    assert status["eval_loss"] == pytest.approx(evals[best])  # and what the run reports is what it keeps
    assert run.read_json("report.json")["tuned"]["loss"] == pytest.approx(evals[best])
    report = run.read_json("report.json")
    assert (report["step"], report["weights_of"]) == (result.step, best)  # the Results tab says whose weights
    assert f"Early stopping kept the weights of step {best}" in results_tab.summary(report)
    i18n.use("zh")
    try:
        assert f"在第 {result.step} 步提前停止" in dashboard.progress_markdown({"run_id": run.id, **status})
        assert "保留该步的权重" in dashboard.progress_markdown({"run_id": run.id, **status})
    finally:
        i18n.use("en")


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "adafactor", "adamw_8bit"])
def test_every_optimizer_trains(tiny_llama, optimizer):
    cfg = config(tiny_llama, max_steps=3, optimizer=optimizer)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    assert all(math.isfinite(v) for v in losses(run).values())


@pytest.mark.slow  # trains several tiny runs (2.5 s): the quick lane stays under two minutes
def test_schedules_follow_their_shape(tiny_llama):
    shapes = {}
    for name in ("linear", "cosine", "constant"):
        cfg = config(tiny_llama, max_steps=8, scheduler=name, warmup_ratio=0.25)
        run = RunDir.create(cfg)
        engine.run(cfg, run)
        shapes[name] = [m["lr"] for m in run.metrics() if "lr" in m]
    peak = 5e-3
    assert shapes["constant"][2:] == [pytest.approx(peak)] * 6
    assert shapes["linear"][:2] == [pytest.approx(peak / 2), pytest.approx(peak)]
    assert shapes["linear"][-1] == pytest.approx(0) and shapes["cosine"][-1] == pytest.approx(0)
    assert shapes["cosine"][3] > shapes["linear"][3] and shapes["cosine"][5] < shapes["linear"][5]  # the curve


def test_gradient_checkpointing_gives_the_same_losses(tiny_llama):
    runs = []
    for checkpointing in (False, True):
        cfg = config(tiny_llama, max_steps=3, gradient_checkpointing=checkpointing)
        runs.append(RunDir.create(cfg))
        assert engine.run(cfg, runs[-1]).state == "completed"
    plain, recomputed = losses(runs[0]), losses(runs[1])
    assert all(math.isclose(plain[s], recomputed[s], rel_tol=1e-4) for s in plain)
