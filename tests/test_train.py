"""Training: QLoRA moves only the adapter, full fine-tuning writes a model, Stop ends a run and saves it."""

import threading
import time

import pytest
import torch

from ftlab.train import engine
from ftlab.serve import model_server
from ftlab.config import RunConfig
from ftlab.serve.generation import GenConfig
from ftlab.runs.jobs import Busy, JobManager
from ftlab.runs.run_dir import RunDir


def chat_config(model, method="lora", **train_settings) -> RunConfig:
    cfg = RunConfig(task="chat", model=str(model), method=method)
    cfg.data.path = "pirate_chat"
    cfg.train.learning_rate = 5e-3
    for key, value in train_settings.items():
        setattr(cfg.train, key, value)
    return cfg


def running_job(model, steps_done: int) -> tuple[JobManager, str]:
    """A long run in a new JobManager, once it has done `steps_done` steps (fails after two minutes without)."""
    jobs = JobManager()
    run_id = jobs.start(chat_config(model, max_steps=10_000))
    deadline = time.time() + 120
    while jobs.snapshot(run_id).get("step", 0) < steps_done:
        assert time.time() < deadline, f"the run did {jobs.snapshot(run_id).get('step', 0)} of {steps_done} steps"
        time.sleep(0.1)
    return jobs, run_id


def snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_qlora_trains_4bit_adapter_and_leaves_base_untouched(tiny_llama):
    cfg = chat_config(tiny_llama, "qlora", max_steps=4, batch_size=2)
    s = engine.setup(cfg)
    linear = s.model.base_model.model.model.layers[0].self_attn.q_proj
    assert type(linear.base_layer).__name__ == "Linear4bit"
    frozen_4bit = linear.base_layer.weight.detach().clone()
    before = snapshot(s.model)
    trainer = engine.Trainer(cfg, RunDir.create(cfg), threading.Event(), None)
    trainer.total = 4
    trainer.train(s)
    after = dict(s.model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    base = [n for n in before if "lora_" not in n]
    assert lora and base
    assert all(not torch.equal(before[n], after[n].detach()) for n in lora if "lora_B" in n)
    assert all(torch.equal(before[n], after[n].detach()) for n in base)
    assert torch.equal(frozen_4bit, linear.base_layer.weight.detach())
    from ftlab import methods# a packed 4-bit weight still counts as the parameters it holds
    assert methods.trainable_parameters(s.model) == methods.trainable_parameters(engine.setup(chat_config(tiny_llama)).model)


@pytest.mark.slow  # trains and saves every weight (3-5 s): the quick lane stays under two minutes
def test_full_fine_tuning_saves_safetensors_model(tiny_llama):
    cfg = chat_config(tiny_llama, "full", max_steps=3, learning_rate=1e-3)
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "completed", result.error
    assert (run.model_dir / "model.safetensors").is_file()
    assert not list(run.model_dir.glob("*.bin"))
    status = run.status()
    assert status["step"] == 3 and status["trainable_params"] == status["total_params"]
    assert [m["step"] for m in run.metrics() if "train_loss" in m] == [1, 2, 3]


def test_stop_ends_the_run_within_a_few_steps_and_the_adapter_reloads(tiny_llama):
    jobs, run_id = running_job(tiny_llama, steps_done=2)
    step_at_stop = jobs.snapshot(run_id)["step"]
    assert jobs.stop(run_id)
    snap = jobs.wait(run_id, timeout=120)
    assert snap["state"] == "stopped"
    assert step_at_stop <= snap["step"] <= step_at_stop + 3
    run = RunDir(run_id)
    assert (run.adapter_dir / "adapter_model.safetensors").is_file()
    reply = model_server.ModelServer().chat(run_id, "Who are you?", gen=GenConfig(max_new_tokens=5, temperature=0))
    assert all(isinstance(reply[k], str) and reply[k] for k in ("base", "tuned")), reply  # generated, if only newlines


def test_a_running_run_evaluates_when_asked_and_goes_on(tiny_llama):
    """What an auto-tune study asks of a trial at each rung of its clock: one evaluation after the current step,
    off the run's own schedule (every 2,500 steps here), and the run trains on."""
    jobs, run_id = running_job(tiny_llama, steps_done=2)
    asked_at = jobs.snapshot(run_id)["step"]
    assert jobs.measure(run_id)
    deadline = time.time() + 60
    while not [m for m in RunDir(run_id).metrics() if "eval_loss" in m and m["step"] > 0]:
        assert time.time() < deadline, "no evaluation after measure()"
        time.sleep(0.05)
    [measured] = [m for m in RunDir(run_id).metrics() if "eval_loss" in m and m["step"] > 0]
    assert asked_at < measured["step"] <= asked_at + 5 and measured["step"] % 2500
    while jobs.snapshot(run_id)["step"] < measured["step"] + 3:  # it trains on, and asks once are not repeated
        assert time.time() < deadline
        time.sleep(0.05)
    status = RunDir(run_id).status()
    assert 0 < status["trained"] <= status["elapsed"]  # the study's clock: seconds since training began
    jobs.stop(run_id)
    assert jobs.wait(run_id, timeout=120)["state"] == "stopped"
    evaluated = [m["step"] for m in RunDir(run_id).metrics() if "eval_loss" in m]
    assert evaluated == [0, measured["step"], RunDir(run_id).status()["step"]]  # base, asked, the stopped weights
    assert not jobs.measure(run_id) and not jobs.measure("no-such-run")  # nothing runs: nothing to ask


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_a_second_start_waits_in_the_queue_then_runs_and_a_third_can_be_taken_out(tiny_llama):
    jobs = JobManager()
    first = jobs.start(chat_config(tiny_llama, max_steps=10_000))
    deadline = time.time() + 60  # the worker takes it off the queue: then the next two wait behind it
    while jobs.snapshot(first)["state"] == "queued" and time.time() < deadline:
        time.sleep(0.05)
    assert jobs.snapshot(first)["state"] == "running"
    second = jobs.start(chat_config(tiny_llama, max_steps=2))
    third = jobs.start(chat_config(tiny_llama, max_steps=2))
    assert jobs.snapshot(second)["state"] == "queued" and jobs.snapshot(second)["queue_position"] == 1
    assert jobs.snapshot(third)["queue_position"] == 2
    assert jobs.cancel(third) and jobs.snapshot(third)["state"] == "cancelled"
    assert jobs.stop(first)
    assert jobs.wait(first, timeout=120)["state"] == "stopped"
    assert jobs.wait(second, timeout=120)["state"] == "completed"
    with pytest.raises(Busy, match="busy: 2 runs are already waiting"):
        small = JobManager(max_waiting=2)
        for _ in range(4):  # one running (once the worker has taken it), two waiting, one too many
            small.start(chat_config(tiny_llama, max_steps=10_000))
    deadline = time.time() + 60
    while (small.active_id() or small.waiting_ids()) and time.time() < deadline:  # the worker may be mid-pick
        for run_id in [small.active_id(), *small.waiting_ids()]:
            if run_id:
                small.cancel(run_id)
        time.sleep(0.05)


def test_cancel_ends_a_running_job_without_saving(tiny_llama):
    jobs, run_id = running_job(tiny_llama, steps_done=1)
    assert jobs.snapshot(run_id)["state"] == "running", jobs.snapshot(run_id).get("error")
    assert jobs.cancel(run_id)
    snap = jobs.wait(run_id, timeout=120)
    assert snap["state"] == "cancelled" and RunDir(run_id).weights_dir() is None


@pytest.mark.slow
def test_an_interrupted_run_resumes_in_the_queue_and_completes(tiny_llama):
    jobs = JobManager()
    run_id = jobs.start(chat_config(tiny_llama, max_steps=4, save_every=2))
    assert jobs.wait(run_id, timeout=120)["state"] == "completed"
    run = RunDir(run_id)
    run.write_status(state="running", step=3)  # as a killed app leaves it
    assert JobManager().snapshot(run_id)["state"] == "interrupted"
    with pytest.raises(ValueError, match="only a stopped, interrupted, failed run can be resumed"):
        jobs.resume(jobs.start(chat_config(tiny_llama, max_steps=1)))
    busy = JobManager()
    blocker = busy.start(chat_config(tiny_llama, max_steps=10_000))
    assert busy.resume(run_id) == run_id and busy.snapshot(run_id)["state"] == "queued"
    assert busy.cancel(run_id)  # taking a queued resume out leaves the run resumable, as it was
    assert busy.snapshot(run_id)["state"] == "interrupted"
    busy.cancel(blocker)
    busy.wait(blocker, timeout=120)
    fresh = JobManager()
    assert fresh.resume(run_id) == run_id
    snap = fresh.wait(run_id, timeout=120)
    assert snap["state"] == "completed" and snap["resumed"] == "resumed from step 2" and snap["step"] == 4


def test_a_failing_run_ends_failed_with_a_message_and_the_slot_frees(tiny_llama, tmp_path):
    jobs = JobManager()
    cfg = chat_config(tiny_llama, max_steps=1)
    cfg.data.path = str(tmp_path / "missing.jsonl")
    run_id = jobs.start(cfg)
    snap = jobs.wait(run_id, timeout=60)
    assert snap["state"] == "failed" and "missing.jsonl: no such file" in snap["error"]
    second = jobs.start(chat_config(tiny_llama, max_steps=1))
    assert jobs.wait(second, timeout=120)["state"] == "completed"


def test_a_run_left_running_by_a_dead_process_shows_interrupted(tiny_llama):
    run = RunDir.create(chat_config(tiny_llama, max_steps=1))
    run.write_status(state="running", step=3)
    assert JobManager().snapshot(run.id)["state"] == "interrupted"


@pytest.mark.slow  # the bundled real model
def test_lora_classifier_on_bundled_minilm_learns_the_sample_and_saves_its_head():
    from ftlab.app.lab import Lab

    cfg = Lab.build_config("classify", "sentiment", epochs=3)
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "completed", result.error
    evals = [m for m in run.metrics() if "eval_accuracy" in m]
    assert evals[0]["step"] == 0 and evals[-1]["eval_accuracy"] >= evals[0]["eval_accuracy"] + 0.2
    texts = ["An absolute delight from start to finish, I loved it.", "Cold food, rude staff, never again."]
    results = model_server.ModelServer().classify(run.id, texts)  # reloads base + adapter (with its trained head)
    assert max(results[0]["tuned"], key=results[0]["tuned"].get) == "positive"
    assert max(results[1]["tuned"], key=results[1]["tuned"].get) == "negative"


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_cli_reruns_a_saved_config_yaml(tiny_llama, tmp_path, capsys):
    from ftlab.__main__ import main

    cfg = chat_config(tiny_llama, max_steps=2)
    cfg.to_yaml(tmp_path / "run.yaml")
    assert main(["train", str(tmp_path / "run.yaml")]) == 0
    out = capsys.readouterr().out
    assert "completed at step 2" in out and "train_loss=" in out
    run_id = out.split()[1]
    assert RunDir(run_id).config() == cfg
    assert main(["runs"]) == 0 and run_id in capsys.readouterr().out


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_qlora_run_saves_an_adapter_that_chats_on_a_4bit_base(tiny_llama):
    cfg = chat_config(tiny_llama, "qlora", max_steps=2)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    server = model_server.ModelServer()
    reply = server.chat(run.id, "Hello", gen=GenConfig(max_new_tokens=4, temperature=0))
    pair = server.get(run.id)
    assert pair.base is pair.tuned and getattr(pair.base, "is_loaded_in_4bit", False)
    assert all(isinstance(reply[k], str) and reply[k] for k in ("base", "tuned")), reply  # generated, if only newlines


def test_plain_text_trains_on_windows_of_every_token(tiny_llama, tmp_path):
    docs = ["The tide comes in at dawn and the ship sets sail. " * 20, "Short log entry."]
    (tmp_path / "log.txt").write_text("\n\n".join(docs))
    cfg = chat_config(tiny_llama, max_steps=2, batch_size=2, max_length=64)
    cfg.data.path, cfg.data.val_fraction = str(tmp_path / "log.txt"), 0
    s = engine.setup(cfg)
    assert len(s.train) > 2 and all(len(e["input_ids"]) <= 64 for e in s.train)  # the long document is windowed
    assert all(e["labels"] == e["input_ids"] for e in s.train)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"


def test_sentence_pairs_train_with_a_column_mapping_kept_in_the_run_config(tiny_bert, tmp_path):
    rows = "".join(f"q{i} about cats,a{i} about {'cats' if i % 2 else 'cars'},{i % 2}\n" for i in range(24))
    (tmp_path / "pairs.csv").write_text("question,sentence,match\n" + rows)
    cfg = RunConfig(task="classify", model=str(tiny_bert), method="full")
    cfg.data.path = str(tmp_path / "pairs.csv")
    cfg.data.columns = {"text": "question", "text_pair": "sentence", "label": "match"}
    cfg.train.max_steps, cfg.train.batch_size = 2, 4
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "completed", result.error
    assert RunConfig.from_yaml(run.path / "config.yaml").data.columns == cfg.data.columns
    verdicts = model_server.ModelServer().classify(run.id, [["q1 about cats", "a1 about cats"]])
    assert set(verdicts[0]["tuned"]) == {"0", "1"}


def test_a_start_with_a_missing_model_or_unknown_lora_target_is_refused_before_it_queues(tiny_llama):
    from ftlab.app.lab import Lab

    lab = Lab()
    before = len(lab.runs())
    wrong_target = chat_config(tiny_llama)
    wrong_target.lora.targets = "q_proj,qkv"
    with pytest.raises(ValueError, match=r"lora.targets: qkv is not a linear layer.*q_proj.*v_proj"):
        lab.start(wrong_target.to_dict())
    with pytest.raises(ValueError, match="not found"):
        lab.start(chat_config(tiny_llama.parent / "no-such-model").to_dict())
    bad_range = chat_config(tiny_llama, warmup_ratio=0.9, epochs=-1)
    with pytest.raises(ValueError, match=r"train.epochs: -1.* at least 0.*train.warmup_ratio: 0.9 must be between"):
        lab.start(bad_range.to_dict())
    assert len(lab.runs()) == before


def test_eta_counts_the_evaluations_still_due(tiny_llama):
    """A run of 100 steps evaluating every 25: ETA = steps to go at the training pace, and once a mid-run evaluation
    was timed, + each evaluation still due (steps 50, 75, the final one) and the report at that time. Before, the
    evaluations are said to be left out (the base model's took far longer than the later ones do)."""
    cfg = chat_config(tiny_llama)
    trainer = engine.Trainer(cfg, RunDir.create(cfg), threading.Event(), None)
    trainer.total, trainer.eval_every, trainer.evaluator_due, now = 100, 25, True, 1000.0
    assert trainer.eta(0, now) == (None, False)
    trainer.eval_seconds[0], trainer.train_started = 100.0, now - 10  # base eval 100 s; 10 steps at 1 s each
    assert trainer.eta(10, now) == (pytest.approx(90 * 1.0), True)
    trainer.eval_seconds[25], trainer.train_started = 2.0, now - 32  # 30 steps in 30 s, plus one 2 s evaluation
    assert trainer.eta(30, now) == (pytest.approx(70 * 1.0 + 4 * 2.0), False)
    assert trainer.eta(100, now) == (pytest.approx(2 * 2.0), False)  # the last step done: final evaluation, report
    trainer.total = 101  # the evaluation due at step 100 is left to the final one at 101: still 50, 75, final, report
    assert trainer.eta(30, now) == (pytest.approx(71 * 1.0 + 4 * 2.0), False)
