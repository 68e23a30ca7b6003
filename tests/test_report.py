"""The evaluation a run writes: probe answers at each eval, report.json base vs tuned, the model card. Every
number in the report is recomputed here from its own rows, without ftlab's metric code."""

import csv
import io
import json
import math
from collections import Counter

import pytest
import sacrebleu

from ftlab import i18n
from ftlab.app import texts
from ftlab.train import engine
from ftlab.eval import scoring, report
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir


def run(model, task, data, **settings):
    cfg = RunConfig(task=task, model=str(model), method="lora")
    cfg.data.path = data
    cfg.train.learning_rate, cfg.train.max_steps, cfg.train.eval_every = 5e-3, 4, 2
    for key, value in settings.items():
        setattr(cfg.eval, key, value)
    run_dir = RunDir.create(cfg)
    assert engine.run(cfg, run_dir).state == "completed"
    return run_dir, json.loads((run_dir.path / "report.json").read_text())


def macro_f1(pairs, n):
    f1s = []
    for c in range(n):
        tp = sum(p == c and r == c for p, r in pairs)
        fp = sum(p == c and r != c for p, r in pairs)
        fn = sum(p != c and r == c for p, r in pairs)
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(f1s) / n


def test_classification_report_recomputes_from_its_rows(tiny_bert):
    run_dir, rep = run(tiny_bert, "classify", "sentiment")
    labels, rows = rep["labels"], rep["rows"]
    assert rep["rows_compared"] == len(rows) == 24  # every validation row of the sample's 10 %
    for side in ("base", "tuned"):
        pairs = [(labels.index(r[side]), labels.index(r["label"])) for r in rows]
        assert rep[side]["accuracy"] == pytest.approx(sum(p == t for p, t in pairs) / len(pairs))
        assert rep[side]["f1_macro"] == pytest.approx(macro_f1(pairs, len(labels)))
        matrix = [[sum(p == j and t == i for p, t in pairs) for j in range(len(labels))] for i in range(len(labels))]
        assert rep["confusion_matrix"][side] == matrix
        assert rep["delta"]["accuracy"] == pytest.approx(rep["tuned"]["accuracy"] - rep["base"]["accuracy"])
    for r in rows:
        expected = ("fixed" if r["tuned"] == r["label"] != r["base"] else
                    "broken" if r["base"] == r["label"] != r["tuned"] else "unchanged")
        assert r["change"] == expected
    assert rep["changes"] == {k: Counter(r["change"] for r in rows)[k] for k in ("fixed", "broken", "unchanged")}
    assert list(csv.DictReader(io.StringIO(report.csv_text(rep))))[0]["text"] == rows[0]["text"]
    card = (run_dir.path / "README.md").read_text()
    assert "sentiment.csv" in card and "SHA-256" in card and "| accuracy |" in card and "torch" in card


def test_the_final_weights_are_measured_once_for_the_last_evaluation_and_the_report(tiny_bert, monkeypatch):
    from contextlib import nullcontext

    from ftlab import tasks
    from ftlab.serve.model_server import load_pair

    task, passes, asked = tasks.get("classify"), [], []
    real, real_answer = task.eval_loss, task.answer
    monkeypatch.setattr(task, "eval_loss", lambda *a, **k: passes.append(1) or real(*a, **k))
    monkeypatch.setattr(task, "answer", lambda m, t, prompts, *a, **k: asked.append(len(prompts))
                        or real_answer(m, t, prompts, *a, **k))
    cfg = RunConfig(task="classify", model=str(tiny_bert), method="lora")
    cfg.data.path, cfg.train.seed, cfg.train.precision = "sentiment", 7, "fp32"
    cfg.train.learning_rate, cfg.train.max_steps, cfg.train.eval_every = 5e-3, 7, 3
    run_dir = RunDir.create(cfg)
    assert engine.run(cfg, run_dir).state == "completed"
    evals = [m for m in run_dir.metrics() if "eval_loss" in m]
    assert [m["step"] for m in evals] == [0, 3, 7]  # the one due at step 6 is left to the final one a step later
    base_measured = not run_dir.status().get("base_reused_from")
    assert len(passes) == 2 + base_measured  # steps 3 and 7 (and the base): the report measured nothing again
    assert asked == [3] * (2 + base_measured)  # the loss pass answered every row: a second pass asks the probes only
    rep = json.loads((run_dir.path / "report.json").read_text())
    assert rep["tuned"]["accuracy"] == pytest.approx(evals[-1]["eval_accuracy"])  # its rows agree with the metrics
    pair = load_pair(run_dir.id, "classify")  # the saved model, as serving asks it text by text
    with pair.tuned_context():
        served = real_answer(pair.tuned, pair.tokenizer, [(r["text"], None) for r in rep["rows"]], cfg, "cpu",
                             nullcontext)
    assert [(r["tuned"], r["tuned_p"]) for r in rep["rows"]] == \
        [(rep["labels"][label], pytest.approx(p, abs=1e-4)) for label, p in served]


def test_chat_report_and_probe_timeline_recompute_from_saved_answers(tiny_llama):
    run_dir, rep = run(tiny_llama, "chat", "pirate_chat", max_new_tokens=12, report_rows=6)
    rows = rep["rows"]
    assert rep["rows_compared"] == len(rows) == 6
    for side in ("base", "tuned"):
        hyps, refs = [r[side] for r in rows], [r["reference"] for r in rows]
        assert rep[side]["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
        assert rep[side]["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
        assert rep[side]["exact_match"] == pytest.approx(sum(h.strip() == r.strip() for h, r in zip(hyps, refs)) / 6)
        assert rep[side]["perplexity"] == pytest.approx(math.exp(rep[side]["loss"]))
        for r in rows:
            assert r[f"{side}_score"] == pytest.approx(sacrebleu.sentence_chrf(r[side], [r["reference"]]).score,
                                                       abs=0.01)
    assert all(r["improvement"] == pytest.approx(r["tuned_score"] - r["base_score"], abs=0.011) for r in rows)
    samples = RunDir(run_dir.id).metrics("samples")
    assert sorted({s["step"] for s in samples}) == [0, 2, 4]
    first = {s["probe"]: s for s in samples if s["step"] == 0}
    assert len(first) == 3 and all(s["base"] == first[s["probe"]]["base"] for s in samples)
    assert all(s["tuned"] == s["base"] for s in first.values())  # step 0 is the base model itself
    evals = [m for m in RunDir(run_dir.id).metrics() if "eval_loss" in m]
    assert [m["step"] for m in evals] == [0, 2, 4] and all("eval_bleu" in m and "eval_perplexity" in m for m in evals)


def test_overfitting_is_flagged_only_when_eval_rises_while_train_falls():
    rising_eval = [(0, 1.0, 2.0), (2, 1.1, 1.5), (4, 1.2, 1.0)]
    assert "eval loss rose 2 evaluations in a row (1.0000 at step 0 -> 1.2000 at step 4)" in \
        scoring.overfitting(rising_eval, 2)
    warning = scoring.overfitting(rising_eval, 2)
    assert warning.code == "overfitting" and warning.fields["last_step"] == 4
    i18n.use("zh")
    try:
        assert "可能过拟合：验证损失连续 2 次评估上升（第 0 步 1.0000 → 第 4 步 1.2000）" in texts.status_event(
            {"warning": warning, "warning_event": warning.as_dict()}, "warning")
    finally:
        i18n.use("en")
    assert scoring.overfitting(rising_eval[:2], 2) == ""  # not yet K rises
    assert scoring.overfitting([(0, 1.0, 2.0), (2, 1.1, 1.5), (4, 1.05, 1.0)], 2) == ""  # eval dipped
    assert scoring.overfitting([(0, 1.0, 1.0), (2, 1.1, 1.5), (4, 1.2, 2.0)], 2) == ""  # train rose too
    assert scoring.overfitting(rising_eval, 0) == ""  # switched off
