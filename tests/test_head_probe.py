"""A classifier's new head starts as a linear probe on the base model's features (LP-FT, ftlab.tasks.head_probe):
the fit is the regularised softmax regression scikit-learn computes, the probed base scores above a random head,
and a second run on the same base and data reuses the fit and trains exactly as the first."""

from __future__ import annotations

import json
from contextlib import nullcontext

import pytest

from ftlab import paths
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir
from ftlab.tasks import head_probe
from ftlab.train import engine

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def test_the_probe_is_the_softmax_regression_scikit_learn_fits():
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 6, generator=g)
    y = (x @ torch.randn(3, 6, generator=g).T + 0.8 * torch.randn(400, 3, generator=g)).argmax(1)  # not separable
    found = head_probe.fit(x, y, 3)
    # ours: mean cross-entropy + L2 * |W|^2; scikit-learn's: C * summed cross-entropy + |W|^2 / 2 (bias free in both)
    oracle = LogisticRegression(C=1 / (2 * len(x) * head_probe.L2), tol=1e-10, max_iter=10_000)
    oracle.fit(x.numpy(), y.numpy())
    ours = torch.softmax(x @ found["weight"].T + found["bias"], -1).numpy()
    assert np.abs(ours - oracle.predict_proba(x.numpy())).max() < 1e-3
    assert 0.8 < (ours.argmax(1) == y.numpy()).mean() < 1.0


def run_with(model: str, method: str = "lora", **settings) -> RunDir:
    cfg = RunConfig(task="classify", model=model, method=method)
    cfg.data.path = "sentiment"
    cfg.train.max_steps, cfg.train.precision, cfg.train.batch_size = 2, "fp32", 8
    for key, value in settings.items():
        cfg.set(key, value)
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed", run.status().get("error")
    return run


def evals(run: RunDir) -> list:
    return [{k: v for k, v in m.items() if k != "time"} for m in run.metrics() if "eval_accuracy" in m]


@pytest.mark.slow
def test_a_probed_head_starts_above_a_random_one_and_a_second_run_reuses_its_fit():
    random_head = run_with(MINILM)  # the default head
    folder = paths.home() / "head_probes"
    before = set(folder.glob("*.safetensors"))
    probed = run_with(MINILM, **{"classify.head_init": "probe"})
    fitted = set(folder.glob("*.safetensors")) - before
    assert len(fitted) == 1  # the random head fitted nothing; the probed run fitted one
    fitted_at = {p: p.stat().st_mtime_ns for p in folder.glob("*.safetensors")}
    again = run_with(MINILM, **{"classify.head_init": "probe"})

    chance = evals(random_head)[0]["eval_accuracy"]
    assert evals(probed)[0]["step"] == 0 and evals(probed)[0]["eval_accuracy"] >= chance + 0.15
    assert {p: p.stat().st_mtime_ns for p in folder.glob("*.safetensors")} == fitted_at  # reused, not fitted again
    assert evals(again) == evals(probed)  # the reused fit trains exactly as the fitted one (the fit draws no random
    # numbers of the run's stream)
    assert again.read_json("base.json")["metrics"] == probed.read_json("base.json")["metrics"]
    assert random_head.read_json("base.json")["metrics"] != probed.read_json("base.json")["metrics"]


def test_runs_on_other_training_rows_fit_their_own_probe_and_measure_their_own_base(tiny_bert, tmp_path):
    rows = "text,label\n" + "".join(f"review {i} was {'great' if i % 2 else 'awful'},"
                                    f"{'positive' if i % 2 else 'negative'}\n" for i in range(40))
    val = tmp_path / "val.csv"
    val.write_text(rows)
    other = tmp_path / "other.csv"
    other.write_text(rows.replace("great", "fine").replace("awful", "poor"))
    probe = {"classify.head_init": "probe", "data.val_path": str(val)}
    first = run_with(str(tiny_bert), **probe)
    second = run_with(str(tiny_bert), **{**probe, "data.path": str(other)})
    assert second.status().get("base_reused_from") is None  # same validation rows, another probe: measured again
    assert first.read_json("base.json")["metrics"] != second.read_json("base.json")["metrics"]


@pytest.mark.parametrize("method", ["lora", "full"])  # a shared base with the adapter attached; a run's own base
def test_a_probed_run_is_served_with_the_base_its_report_measured(tiny_bert, method):
    from ftlab import tasks
    from ftlab.serve.model_server import load_pair

    run = run_with(str(tiny_bert), method, **{"classify.head_init": "probe", "learning_rate": 5e-3, "max_steps": 4})
    plain = run_with(str(tiny_bert), method, **{"learning_rate": 5e-3, "max_steps": 4})
    rep = json.loads((run.path / "report.json").read_text())
    texts = [(r["text"], None) for r in rep["rows"]]
    cfg, answer = run.config(), tasks.get("classify").answer

    def served_base(run_id: str) -> list:
        pair = load_pair(run_id, "classify")
        with pair.base_context():
            return answer(pair.base, pair.tokenizer, texts, cfg, "cpu", nullcontext)

    probed = served_base(run.id)
    assert [(r["base"], r["base_p"]) for r in rep["rows"]] == \
        [(rep["labels"][label], pytest.approx(p, abs=1e-4)) for label, p in probed]  # the Compare tab's base is the
    assert served_base(plain.id) != probed  # report's; a run with a random head is served with that one
