"""The task seam holds: a task written in this file alone (a regression "score" task: a number per text, a
one-output head, mean absolute error) and registered with one line trains end to end through the same engine,
evaluator and report as chat and classify, with a data format and a metric of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftlab import tasks
from ftlab.config import RunConfig
from ftlab.data.formats import Format
from ftlab.metrics import registry
from ftlab.runs.run_dir import RunDir, list_runs
from ftlab.tasks import Cases, Task
from ftlab.train import engine


class Score(Task):
    """A number for each text, learnt by a regression head."""

    name = "score"
    model_kind = "sequence_classification"
    peft_type = "SEQ_CLS"
    key_metric = "eval_mae"
    formats = (Format("scored_text", "score", ("text", "score"), (), ("text",), "rows have `text` and `score`"),)

    def load_model(self, where, labels, quantization=None, seed=0, trust_remote_code=False):
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.manual_seed(seed)
        return AutoModelForSequenceClassification.from_pretrained(where, num_labels=1, problem_type="regression",
                                                                  ignore_mismatched_sizes=True)

    def encode(self, tok, fmt, row, max_length, label_index, train_on_prompt):
        ids = tok(row["text"], truncation=True, max_length=max_length)["input_ids"]
        return [{"input_ids": ids, "label": float(row["score"])}]

    def cases(self, fmt, rows, labels):
        return Cases([r["text"] for r in rows], [float(r["score"]) for r in rows], [r["text"] for r in rows])

    def probe_prompts(self, probes):
        return list(probes)

    def eval_loss(self, model, examples, pad_id, batch_size, device, autocast, progress=lambda n: None, cfg=None):
        import torch

        from ftlab.data import encode

        total, predicted = 0.0, []
        with torch.no_grad():
            for i in range(0, len(examples), batch_size):
                batch = encode.collate(examples[i : i + batch_size], pad_id)
                out = model(**batch)
                total += float(out.loss) * len(batch["labels"])
                predicted += out.logits.squeeze(-1).tolist()
                progress(len(batch["labels"]))
        return total / max(len(examples), 1), predicted, len(examples)

    def answered(self, cfg, final):
        return None if final else 0

    def answer(self, model, tok, prompts, cfg, device, autocast, progress=lambda n: None):
        import torch

        enc = tok(list(prompts), truncation=True, max_length=cfg.train.max_length, padding=True,
                  return_tensors="pt")
        with torch.no_grad():
            return model(**enc).logits.squeeze(-1).tolist()

    def scores(self, predictions, answers, references, labels, loss, weight, cfg):
        return {"eval_loss": loss, "eval_mae": mae(predictions, references)}

    def shown(self, answer, labels):
        return f"{answer:.2f}"

    def compare(self, labels, val, base, tuned):
        rows = [{"text": x, "target": y, "base": round(b, 3), "tuned": round(t, 3)}
                for x, y, b, t in zip(val.texts, val.references, base, tuned)]
        return {"base": {"mae": mae(base, val.references)}, "tuned": {"mae": mae(tuned, val.references)},
                "rows": rows}


def mae(predicted: list[float], targets: list[float]) -> float:
    return sum(abs(p - t) for p, t in zip(predicted, targets)) / max(len(predicted), 1)


@pytest.fixture
def score_task():
    tasks.register(Score())  # the one registration line
    registry.register(registry.Metric("mae", ("score",), higher_is_better=False, headline=True))
    yield
    tasks._TASKS.pop("score")


def test_a_task_defined_in_a_test_file_trains_evaluates_and_reports_end_to_end(score_task, tiny_bert, tmp_path):
    words = ["great", "fine", "poor", "awful", "lovely", "dull", "superb", "bad"]
    data = tmp_path / "scores.jsonl"
    data.write_text("".join(json.dumps({"text": f"the meal was {w} {i}", "score": 3.0 if w in
                                        ("great", "lovely", "superb", "fine") else 1.0}) + "\n"
                            for i in range(12) for w in words))
    cfg = RunConfig(task="score", model=str(tiny_bert), method="full")
    cfg.data.path, cfg.data.format, cfg.train.early_stopping_metric = str(data), "scored_text", "eval_mae"
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.batch_size, cfg.train.precision = 40, 2e-3, 16, "fp32"
    assert cfg.validate() == []
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    assert result.state == "completed", result.error
    evals = [m for m in run.metrics() if "eval_mae" in m]
    assert [m["step"] for m in evals][0] == 0 and evals[-1]["step"] == 40
    report = json.loads((run.path / "report.json").read_text())
    assert report["task"] == "score" and report["rows_compared"] == len(report["rows"]) > 0
    assert report["tuned"]["mae"] < 0.6 * report["base"]["mae"], report  # it learnt: targets 1 and 3, base near 0
    assert set(report["base"]) >= {"loss", "mae"}
    samples = [json.loads(line) for line in (run.path / "samples.jsonl").read_text().splitlines()]
    assert samples and all(float(s["tuned"]) == pytest.approx(float(s["tuned"])) for s in samples)
    listed = next(r for r in list_runs() if r["run_id"] == run.id)
    assert listed["task"] == "score" and listed["key_metric"] == pytest.approx(evals[-1]["eval_mae"])
    assert Path(run.model_dir / "model.safetensors").is_file()
