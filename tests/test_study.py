"""Auto-tune: a study's trials are normal runs in the queue, the pruner ends a trial that falls clearly behind at
equal training time, a shared server holds a whole study to one run's budget, and a study survives a SIGKILL of the
app."""

from __future__ import annotations

import signal
import time

import pytest

from ftlab.app import owners
from ftlab.app.lab import Lab
from ftlab.runs import study_clock, study_space
from ftlab.runs.run_dir import RunDir
from ftlab.runs.study import StudyDir
from ftlab.train import defaults

pytestmark = pytest.mark.slow  # each trains several tiny runs

QUICK = {"max_rows": 40, "val_fraction": 0.2, "max_length": 64, "eval.probe_count": 0, "eval.report_rows": 4}
"""40 pirate chats (32 train, 8 validate): a trial takes seconds (its evaluations score the loss, no replies)."""


def config(lab: Lab, model) -> dict:
    return lab.build_config("chat", "pirate_chat", str(model), "lora", **QUICK).to_dict()


def test_a_three_trial_study_runs_its_trials_as_queued_runs_and_promotes_the_best(tiny_llama):
    lab = Lab()
    cfg = config(lab, tiny_llama)
    cfg["train"]["learning_rate"] = 5e-4  # LoRA's rate for a model this small: within the study's space
    study_id = lab.tune(cfg, trials=3, minutes=0)
    assert lab.studies.wait(study_id, 600)["state"] == "done"
    found = lab.study(study_id)
    trials = found["trials"]
    assert [t["number"] for t in trials] == [1, 2, 3]
    assert trials[0]["settings"]["learning_rate"] == 5e-4 and trials[0]["params"]["epochs"] == 3  # the config's own
    full, space = trials[1], StudyDir(study_id).read()["space"]  # then full fine-tuning at its own default: the
    assert full["params"]["method"] == "full" and full["state"] == "complete"  # first of its kind, run to its end
    assert full["params"]["epochs"] == space["epochs"][1]
    assert full["settings"]["learning_rate"] == pytest.approx(space["base_lr"]["full"], rel=1e-2)
    assert all(t["state"] in ("complete", "pruned") for t in trials) and trials[0]["state"] == "complete"
    for t in trials:  # each a run of the queue, named for its study, with the trial's own settings
        run = RunDir(t["run_id"])
        cfg = run.config()
        assert cfg.name == f"{study_id} #{t['number']}" and run.status()["state"] in ("completed", "cancelled")
        assert cfg.method == t["params"]["method"] and cfg.train.epochs == t["params"]["epochs"]
        assert cfg.train.learning_rate == t["settings"]["learning_rate"]
        assert cfg.train.max_length == 64 and cfg.data.max_rows == 40  # what is not searched stays the config's
        assert cfg.eval.generate_rows == 0  # a trial generates no replies at its evaluations: the study reads the loss
        assert not any(k.startswith("eval_bleu") for m in run.metrics() for k in m)
        assert t["curve"] and all(progress > 0 for progress, _ in t["curve"])
    assert {t["run_id"] for t in trials} <= {r["run_id"] for r in lab.runs()}
    complete = [t for t in trials if t["state"] == "complete"]
    best = min(complete, key=lambda t: t["value"])  # eval loss: lower is better
    assert found["best_run"] == best["run_id"] and found["best_value"] == best["value"]
    assert found["metric"] == "eval_loss" and found in [lab.study(study_id)] and lab.studies_list()[0]["id"] == study_id
    lab.delete(trials[-1]["run_id"])  # a trial's run is a run like any other
    assert len(lab.study(study_id)["trials"]) == 3


def test_pruning_stops_a_trial_that_is_clearly_worse_at_equal_training_time(tiny_llama):
    lab = Lab()
    cfg = lab.checked(lab.build_config("chat", "pirate_chat", str(tiny_llama), "lora",
                                       **{**QUICK, "max_rows": 160}).to_dict())  # 128 rows: 96 steps a trial
    sp = study_space.space(cfg, defaults.facts(cfg), fits_full=True)
    trial = {"method": "full", "epochs": 3, "batch_size": 4, "warmup_ratio": 0.0}
    tried = [{**trial, "lr_scale": 1.0}, {**trial, "lr_scale": 5.0}, {**trial, "lr_scale": 0.2}]
    study_id = lab.studies.start(cfg, sp, trials=3, minutes=0, enqueue=tried)  # the third learns ~5x slower
    assert lab.studies.wait(study_id, 600)["state"] == "done"
    first, second, third = lab.study(study_id)["trials"]
    assert first["state"] == second["state"] == "complete" and third["state"] == "pruned"
    rung = StudyDir(study_id).read()["first_rung"]  # the first trial's seconds for a sixth of its steps (tenths)
    trained = RunDir(first["run_id"]).status()["trained"]
    assert 0 < rung <= trained * study_clock.UNIT
    at, loss = third["curve"][-1]
    assert round(at * study_clock.UNIT) in {rung * study_clock.FACTOR ** k for k in range(6)}  # at a rung
    assert loss > max(dict(first["curve"])[at], dict(second["curve"])[at])  # behind both there, at equal times
    status = RunDir(third["run_id"]).status()
    assert status["state"] == "cancelled" and "pruned" in status["note"]
    assert status["step"] < status["total_steps"]  # it did not run to the end
    evaluated = [m["step"] for m in RunDir(first["run_id"]).metrics() if "eval_loss" in m]
    assert len(evaluated) == len(first["curve"]) + 1  # the base, then only what the study asked for, and the last


def test_a_shared_server_holds_a_whole_study_to_the_budget_of_one_run(tiny_llama):
    lab = Lab(shared=True, limits={"steps": 40, "minutes": 5})
    owners.acting_as("alice")
    try:
        study_id = lab.tune(config(lab, tiny_llama), trials=6, minutes=60)
        info = lab.studies.wait(study_id, 600)
        assert info["budget"] == {"trials": 6, "minutes": 5.0, "steps": 40}
        trials = lab.study(study_id)["trials"]
        assert sum(RunDir(t["run_id"]).status().get("step", 0) for t in trials) <= 40
        assert all(RunDir(t["run_id"]).owned_by("alice") for t in trials)
        owners.acting_as("bob")  # someone else's study does not exist for them
        assert lab.studies_list() == []
        with pytest.raises(ValueError, match="no study"):
            lab.study(study_id)
    finally:
        owners.acting_as(None)


def test_a_study_survives_a_sigkill_of_the_app(tiny_llama, tmp_path):
    from conftest import launch_app, stop_app
    from gradio_client import Client

    proc, url = launch_app(tmp_path)
    client = Client(url, verbose=False)
    settings = {**QUICK, "max_rows": 160}  # 128 rows: 96 steps a trial, a checkpoint every 16
    study_id = client.predict("chat", "pirate_chat", str(tiny_llama), "lora", settings, 3, 0, api_name="/auto_tune")
    deadline = time.time() + 300
    while time.time() < deadline:  # the first trial training (the first at every rung: never stopped by the study)
        trials = client.predict(study_id, api_name="/study")["trials"]
        if trials and trials[0]["run_id"] and \
                client.predict(trials[0]["run_id"], api_name="/status").get("step", 0) >= 20:
            break
        time.sleep(0.2)
    killed_run = trials[0]["run_id"]
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    proc, url = launch_app(tmp_path)
    try:
        client = Client(url, verbose=False)
        deadline = time.time() + 600
        while time.time() < deadline and client.predict(study_id, api_name="/study")["state"] == "running":
            time.sleep(1)
        found = client.predict(study_id, api_name="/study")
        assert found["state"] == "done" and [t["number"] for t in found["trials"]] == [1, 2, 3]
        assert all(t["state"] in ("complete", "pruned") for t in found["trials"])
        assert found["trials"][0]["run_id"] == killed_run  # the same run went on, from its checkpoint
        status = client.predict(killed_run, api_name="/status")
        assert status["resumed"].startswith("resumed from step") and status["state"] == "completed"
        assert found["best_run"]
    finally:
        stop_app(proc)


def test_the_cli_tunes_a_config_headless_and_names_the_best_trial(tiny_llama, tmp_path, capsys):
    from ftlab.__main__ import main

    cfg = Lab.build_config("chat", "pirate_chat", str(tiny_llama), "lora", **QUICK)
    cfg.to_yaml(tmp_path / "run.yaml")
    assert main(["tune", str(tmp_path / "run.yaml"), "--trials", "2", "--minutes", "0"]) == 0
    out = capsys.readouterr().out
    study_id = out.split()[1]
    assert "trial 1: complete" in out and "trial 2: " in out
    best = out.strip().splitlines()[-1]
    assert best.startswith("done: best eval_loss") and f"(run {Lab().study(study_id)['best_run']})" in best
    assert main(["tune", "--resume", study_id]) == 2  # a finished study has nothing to go on with
