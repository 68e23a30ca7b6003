"""A classification run exported as ONNX answers as the PyTorch model does (fp32 within 1e-4), its int8 copy is
smaller, the predict.py beside them runs without torch, and the server answers from the exported file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ftlab.config import RunConfig
from ftlab.deploy import onnx_export
from ftlab.deploy.onnx_runtime import OnnxClassifier
from ftlab.runs.run_dir import RunDir
from ftlab.serve.model_server import ModelServer
from ftlab.train import engine

pytestmark = pytest.mark.slow  # llama.cpp / ONNX exports of trained runs: make test runs them


TEXTS = ["The soup was cold and the waiter ignored us.", "Loved every minute of it!", "It was fine, I guess.",
         "A long review that goes on and on about the plot, the actors, the music and the ending " * 3]


@pytest.fixture(scope="module")
def classify_run(tiny_bert) -> str:
    cfg = RunConfig(task="classify", model=str(tiny_bert), method="lora")
    cfg.data.path = "sentiment"
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.precision = 4, 5e-3, "fp32"
    cfg.train.max_length = 32  # the long text is cut: the export must cut it where training did
    cfg.eval.report_rows = 2
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


def test_the_onnx_classifier_answers_as_the_pytorch_model(classify_run):
    folder = onnx_export.export_onnx(classify_run)
    torch_probs = [p["probabilities"] for p in ModelServer().predict(classify_run, TEXTS)]
    fp32 = OnnxClassifier(folder, "model.onnx", max_length=32).probabilities(TEXTS)
    for want, got in zip(torch_probs, fp32):
        assert want.keys() == got.keys()
        assert max(abs(want[k] - got[k]) for k in want) < 1e-4
    int8 = OnnxClassifier(folder, "model-int8.onnx", max_length=32).probabilities(TEXTS)
    assert all(abs(sum(p.values()) - 1) < 1e-6 for p in int8)
    assert (folder / "model-int8.onnx").stat().st_size < (folder / "model.onnx").stat().st_size


def test_predict_py_runs_beside_the_files(classify_run):
    folder = onnx_export.export_onnx(classify_run)
    labels = json.loads((folder / "labels.json").read_text())
    done = subprocess.run([sys.executable, str(folder / "predict.py"), *TEXTS[:2]], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.split()[0] in labels for line in lines)


def test_the_server_answers_from_the_exported_file(classify_run):
    onnx_export.export_onnx(classify_run)
    server = ModelServer()
    want = server.predict(classify_run, TEXTS)
    for kind, bound in (("onnx", 1e-4), ("onnx-int8", 0.05)):  # int8: close, what it costs is measured on data
        got = server.predict(f"{classify_run}:{kind}", TEXTS)
        for w, g in zip(want, got):
            assert max(abs(w["probabilities"][k] - g["probabilities"][k]) for k in w["probabilities"]) < bound
    assert server.predict(f"{classify_run}:onnx", TEXTS)[0]["label"] == want[0]["label"]
    with pytest.raises(ValueError, match="no export"):
        server.predict(f"{classify_run}:gguf-q8_0", TEXTS)


def test_the_costs_of_each_format_are_measured_on_the_validation_rows_and_written_into_the_card(classify_run):
    from ftlab.deploy import costs

    rows = costs.measure(classify_run)
    assert [r["format"] for r in rows] == ["PyTorch (not exported)", "ONNX fp32", "ONNX int8"]
    assert rows[1]["accuracy"] == rows[0]["accuracy"] and rows[1]["macro_f1"] == rows[0]["macro_f1"]
    assert all(r["speed"] > 0 and r["size_mb"] > 0 and 0 <= r["accuracy"] <= 1 for r in rows)
    assert rows[2]["size_mb"] < rows[1]["size_mb"]
    card = (RunDir(classify_run).path / "README.md").read_text()
    assert card.count(costs.MARK) == 1 and "| ONNX int8 | onnxruntime |" in card
    costs.measure(classify_run)  # measured again: the card keeps one table
    assert (RunDir(classify_run).path / "README.md").read_text().count(costs.MARK) == 1


def test_a_hub_push_takes_the_exports_made_so_far_along(classify_run, tmp_path):
    from ftlab.runs import export

    onnx_export.export_onnx(classify_run)
    folder = export.export(classify_run, tmp_path / "push")
    export._with_exports(RunDir(classify_run), folder)
    assert {"model.onnx", "model-int8.onnx", "predict.py", "labels.json"} <= {p.name for p in (folder / "onnx").iterdir()}
    assert (folder / "adapter_config.json").is_file()  # beside the model as it was
