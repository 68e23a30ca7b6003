"""Preference runs (DPO, IPO, ORPO, KTO) train through the same engine as the other tasks: the data layouts people
have load as they are (and their mistakes are named by file, line and field), LoRA trains only its adapter while
the reference stays the base model, full fine-tuning works from a reference computed before its first step, the
saved result reloads and answers the same, a resumed run repeats the uninterrupted one's losses, and the headless
CLI trains a preference config."""

from __future__ import annotations

import contextlib
import json
import threading

import pandas as pd
import pytest
import torch
import yaml

from ftlab import data, methods
from ftlab.__main__ import main
from ftlab.config import RunConfig
from ftlab.data import DataError
from ftlab.runs.run_dir import RunDir
from ftlab.serve import model_server
from ftlab.tasks import preference_loss
from ftlab.train import engine, run_setup

PAIR = {"prompt": "What is 2 plus 2?", "chosen": "4.", "rejected": "Well, let me think about that at length: 4."}


def write_jsonl(path, rows) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


LAYOUTS = {
    "preference": [PAIR],
    "ab_export": [{"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
                   "chosen": "Hello.", "rejected": "Hello there, it is so lovely to meet you today!"}],
    "trl_conversational": [{"prompt": [{"role": "user", "content": "2+2?"}],
                            "chosen": [{"role": "assistant", "content": "4."}],
                            "rejected": [{"role": "assistant", "content": "Four, I believe, after some thought."}]}],
    "llamafactory_sharegpt": [{"conversations": [{"from": "human", "value": "2+2?"}],
                               "chosen": {"from": "gpt", "value": "4."},
                               "rejected": {"from": "gpt", "value": "Let me ponder this for a while. 4."}}],
    "llamafactory_alpaca": [{"instruction": "Add the numbers.", "input": "2 and 2", "chosen": "4.",
                             "rejected": "Adding numbers is a wonderful pastime. The sum is 4."}],
    "kto": [{"prompt": "2+2?", "completion": "4.", "label": True},
            {"prompt": "3+3?", "completion": "Let me think at length. 6.", "label": "false"}],
}
FORMAT = {"preference": "preference", "ab_export": "preference", "trl_conversational": "preference",
          "llamafactory_sharegpt": "preference_sharegpt", "llamafactory_alpaca": "preference_alpaca", "kto": "kto"}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_preference_layout_loads_as_it_is(tmp_path, layout, tiny_llama):
    from ftlab import modeling, tasks

    ds = data.load(write_jsonl(tmp_path / f"{layout}.jsonl", LAYOUTS[layout] * 3))
    assert (ds.format, ds.task) == (FORMAT[layout], "preference")
    tok = modeling.load_tokenizer(tiny_llama)
    (example,) = tasks.get("preference").encode(tok, ds.format, ds.rows[0], 256, {}, False)
    trained = [i for i, label in zip(example["input_ids"], example["labels"]) if label != -100]
    reply = tok.decode(trained)
    first = LAYOUTS[layout][0]
    wanted = {"kto": first.get("completion")}.get(layout) or "4." if layout != "ab_export" else "Hello."
    assert reply.startswith(wanted) and reply.endswith("<|im_end|>"), reply  # the reply and its end of turn only


def test_csv_and_parquet_files_with_the_pair_columns_load(tmp_path):
    frame = pd.DataFrame([PAIR] * 3)
    frame.to_csv(tmp_path / "pairs.csv", index=False)
    frame.to_parquet(tmp_path / "pairs.parquet")
    for name in ("pairs.csv", "pairs.parquet"):
        assert data.load(tmp_path / name).format == "preference"


@pytest.mark.parametrize("row, expected", [
    ({**PAIR, "rejected": "4."}, "bad.jsonl, line 2: `chosen` and `rejected` are the same reply"),
    ({**PAIR, "chosen": "  "}, "bad.jsonl, line 2, field `chosen`: missing or empty"),
    ({**PAIR, "prompt": [{"role": "system", "content": "Be brief."}]}, "bad.jsonl, line 2: the prompt has no user turn"),
    ({**PAIR, "chosen": {"role": "user", "content": "4."}}, "bad.jsonl, line 2, field `chosen`: expected the reply"),
    ({"prompt": "2+2?", "completion": "4.", "label": "maybe"}, "bad.jsonl, line 2, field `label`: 'maybe' says "
                                                               "neither desirable nor not"),
])
def test_preference_data_problems_name_file_line_and_field(tmp_path, row, expected):
    first = {"prompt": "1+1?", "completion": "2.", "label": True} if "completion" in row else PAIR
    with pytest.raises(DataError) as caught:
        data.load(write_jsonl(tmp_path / "bad.jsonl", [first, row]))
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value.problems


def config(model, loss="dpo", method="lora", **train) -> RunConfig:
    cfg = RunConfig(task="preference", model=str(model), method=method)
    cfg.data.path, cfg.data.max_rows, cfg.data.val_fraction = "concise_pairs", 24, 0.25
    cfg.preference.loss = loss
    cfg.train.learning_rate, cfg.train.batch_size, cfg.train.max_length = 5e-3, 2, 128
    cfg.train.precision, cfg.eval.report_rows = "fp32", 6
    for key, value in train.items():
        setattr(cfg.train, key, value)
    return cfg


def reference_logps(model, s, rows):
    with torch.no_grad():
        return preference_loss.sequence_logps(model, run_setup.tensors(s, rows))[0]


@pytest.mark.parametrize("method", ["lora", pytest.param("full", marks=pytest.mark.slow)])
def test_dpo_trains_what_the_method_trains_and_the_reference_stays_the_base(tiny_llama, method):
    cfg = config(tiny_llama, method=method)
    s = engine.setup(cfg)
    run = RunDir.create(cfg)
    trainer = engine.Trainer(cfg, run, threading.Event(), None)
    engine._prepare(trainer, s)
    base_ref = reference_logps(s.model, s, s.train[:2])  # before any step: the reference itself
    stored = torch.tensor([x for e in s.train[:2] for x in e["ref"]]).view(2, 2).T.reshape(-1)
    assert torch.allclose(base_ref, stored, atol=1e-5)
    before = {n: (p.detach().clone(), p.requires_grad) for n, p in s.model.named_parameters()}
    trainer.total = 3
    assert trainer.train(s) == 3
    after = dict(s.model.named_parameters())
    trained = [n for n, (_, grad) in before.items() if grad]
    assert trained and all(not torch.equal(before[n][0], after[n].detach()) for n in trained)
    assert all(torch.equal(v, after[n].detach()) for n, (v, grad) in before.items() if not grad)
    if method == "lora":  # the adapter off is the reference: the stored log-probabilities still hold
        with s.model.disable_adapter():
            assert torch.allclose(reference_logps(s.model, s, s.train[:2]), stored, atol=1e-5)
    assert not torch.allclose(reference_logps(s.model, s, s.train[:2]), stored, atol=1e-3)  # the policy moved
    assert [e["ref"] for e in s.train[:2]] == [[float(x) for x in pair] for pair in stored.view(2, 2).T]


@pytest.mark.slow
def test_a_preference_run_saves_a_result_that_reloads_and_answers_the_same(tiny_llama):
    cfg = config(tiny_llama, max_steps=3)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    s = engine.setup(cfg)
    pair = model_server.load_pair(run.id, "chat")
    from peft import PeftModel

    tuned = PeftModel.from_pretrained(s.model.get_base_model(), run.adapter_dir)
    batch = {k: v for k, v in run_setup.tensors(s, [e for e in s.train[:1]]).items() if k in ("input_ids",
                                                                                               "attention_mask")}
    with torch.no_grad():
        assert torch.allclose(pair.tuned(**batch).logits, tuned(**batch).logits, atol=1e-5)
    report = run.read_json("report.json")
    assert report["task"] == "preference" and len(report["rows"]) == 6
    assert {"preference_accuracy", "margin"} <= set(report["tuned"])
    metrics = run.metrics()
    assert any("train_reward_accuracy" in m for m in metrics) and any("eval_reward_margin" in m for m in metrics)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["orpo", "kto", "ipo"])
def test_orpo_kto_and_ipo_runs_complete_with_finite_losses(tiny_llama, loss):
    cfg = config(tiny_llama, loss=loss, max_steps=2)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed", run.status().get("error")
    losses = [m["train_loss"] for m in run.metrics() if "train_loss" in m]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))


@pytest.mark.slow
def test_kto_refuses_nothing_but_dpo_refuses_unpaired_rows(tiny_llama, tmp_path):
    cfg = config(tiny_llama, max_steps=1)
    cfg.data.path = write_jsonl(tmp_path / "kto.jsonl", LAYOUTS["kto"] * 6)
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "failed" and "needs pairs" in result.error and "choose kto" in result.error
    cfg.preference.loss = "kto"
    assert engine.run(cfg, RunDir.create(cfg)).state == "completed"


@pytest.mark.slow
def test_a_resumed_preference_run_repeats_the_uninterrupted_losses(tiny_llama):
    cfg = config(tiny_llama, max_steps=4)
    straight = RunDir.create(cfg)
    assert engine.run(cfg, straight).state == "completed"
    run, stop = RunDir.create(cfg), threading.Event()
    result = engine.run(cfg, run, stop, on_event=lambda e: stop.set() if e.get("step") == 2 else None)
    assert (result.state, result.step) == ("stopped", 2)
    assert engine.run(cfg, run, resume=True).state == "completed"
    assert run.status()["resumed"] == "resumed from step 2"
    losses = {r.id: {m["step"]: m["train_loss"] for m in r.metrics() if "train_loss" in m} for r in (straight, run)}
    assert sorted(losses[run.id]) == [1, 2, 3, 4]
    assert losses[run.id] == pytest.approx(losses[straight.id], rel=1e-4)


@pytest.mark.slow
def test_the_cli_trains_a_preference_config(tiny_llama, tmp_path, capsys):
    cfg = config(tiny_llama, max_steps=2)
    cfg.preference.loss, cfg.preference.beta = "orpo", 0.2
    path = tmp_path / "prefs.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    assert main(["train", str(path)]) == 0
    run_id = capsys.readouterr().out.split()[1]
    saved = RunDir(run_id).config()
    assert (saved.task, saved.preference.loss, saved.preference.beta) == ("preference", "orpo", 0.2)
    assert RunDir(run_id).status()["state"] == "completed"


@pytest.mark.slow
def test_prompt_learnings_reference_is_its_base_without_the_virtual_tokens(tiny_llama):
    s = engine.setup(config(tiny_llama, method="prefix"))
    reference, context = methods.get("prefix").reference_view(s.model)
    assert reference is s.model.get_base_model()  # its virtual tokens change answers from the first step
    assert methods.get("lora").reference_view(s.model)[0] is s.model  # a new adapter changes nothing yet


@pytest.mark.slow  # the Insight panel loads the tokenizer and reads the whole sample
def test_the_data_tab_previews_chosen_against_rejected_and_the_insight_panel_reads_pairs(tiny_llama):
    from ftlab.app.lab import Lab

    info = Lab().inspect("concise_pairs")
    assert info["ok"] and info["format"] == "preference" and info["task"] == "preference"
    assert info["preview_headers"] == ["prompt", "chosen", "rejected"]
    prompt, chosen, rejected = info["preview"][0]
    assert prompt.strip() and len(chosen) < len(rejected)
    found = Lab().insight("concise_pairs", str(tiny_llama), 128)
    trained = "".join(text for text, kind in found["example"] if kind)
    assert trained.startswith(chosen)  # the example marks the chosen reply's tokens as trained
    kto = data.preview(data.load(write_jsonl_tmp(LAYOUTS["kto"] * 3)))
    assert [row[2] for row in kto[:2]] == ["👍", "👎"]


def write_jsonl_tmp(rows) -> str:
    import tempfile
    from pathlib import Path

    return write_jsonl(Path(tempfile.mkdtemp()) / "rows.jsonl", rows)


def test_results_show_a_preference_reports_pairs_fixed_and_broken_in_view():
    from ftlab import tasks
    from ftlab.app.ui import results_tab
    from ftlab.tasks.base import Cases

    val = Cases(["a?", "b?", "c?"], [("A.", "aaa"), ("B.", "bbb"), ("C.", "ccc")], [])
    compared = tasks.get("preference").compare([], val, [[-1.0, -0.5], [-0.2, -0.9], [-1.0, -0.5]],
                                               [[-0.3, -0.9], [-0.9, -0.2], [-1.0, -0.6]])
    assert [r["change"] for r in compared["rows"]] == ["fixed", "broken", "unchanged"]
    assert compared["counts"] == {"fixed": 1, "broken": 1}
    assert compared["base"]["preference_accuracy"] == pytest.approx(1 / 3)
    rep = {"rows_compared": 3, "step": 5, **compared}
    frame = results_tab.rows_frame(rep)
    assert list(frame.columns)[:4] == ["base margin", "tuned margin", "improvement", "change"]
    assert frame.iloc[0]["change"] == "fixed" and len(results_tab.widths(rep)) == len(frame.columns)
    assert "1 more pairs" in results_tab.summary(rep)


@pytest.mark.slow  # scores the reference of a tiny run; make test runs it
@pytest.mark.parametrize("loss", ["dpo", "orpo"])
def test_only_a_loss_with_a_reference_spends_a_phase_scoring_it(tiny_llama, loss):
    """DPO scores every reply with the reference before its first step (the "reference" phase, counted); ORPO has
    no reference: no phase, no stored log-probabilities."""
    cfg = config(tiny_llama, loss=loss)
    s = engine.setup(cfg)
    run = RunDir.create(cfg)
    trainer = engine.Trainer(cfg, run, threading.Event(), None)
    engine._prepare(trainer, s)
    status = run.status()
    if loss == "dpo":
        assert status["phase"] == "reference" and status["phase_done"] == status["phase_total"] == 24
        assert all(len(e["ref"]) == 2 for e in s.train + s.val)
    else:
        assert "phase" not in status and not any("ref" in e for e in s.train + s.val)


def test_pairs_scored_together_equal_pairs_scored_one_at_a_time(tiny_llama):
    """The report scores validation pairs a batch at a time; padding them together changes no pair's scores."""
    from ftlab import modeling, tasks

    cfg = config(tiny_llama)
    task, tok = tasks.get("preference"), modeling.load_tokenizer(tiny_llama)
    model = modeling.load_model(tiny_llama, "causal_lm").eval()
    ds = data.load("concise_pairs")
    pairs = task.cases(ds.format, ds.rows[:5], []).prompts
    assert len({len(p.chosen) for p in pairs}) > 1  # replies of different lengths: padded when together
    together = task.pair_scores(model, tok, pairs, cfg, "cpu", contextlib.nullcontext, batch_size=5)
    alone = [task.pair_scores(model, tok, [p], cfg, "cpu", contextlib.nullcontext, batch_size=1)[0] for p in pairs]
    assert sum(together, []) == pytest.approx(sum(alone, []), abs=1e-4)


def test_the_memory_estimate_holds_both_replies_of_a_pair_and_the_padding_share_each_half_at_its_width():
    from ftlab import tasks

    task = tasks.get("preference")
    assert task.rows_held(config("m", loss="dpo")) == 2 and task.rows_held(config("m", loss="kto")) == 1
    mask = torch.tensor([[1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0],  # chosen: width 3
                         [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])  # rejected: width 6
    assert task.positions({"attention_mask": mask}) == 2 * 3 + 2 * 6
    assert tasks.get("chat").positions({"attention_mask": mask}) == 24
