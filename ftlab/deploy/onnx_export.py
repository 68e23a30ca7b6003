"""A classification run as ONNX for onnxruntime: the merged model (fp32) exported by torch.onnx, an int8 copy
quantized dynamically by onnxruntime, the tokenizer, the labels and a predict.py that needs no torch.

Both files are kept in the run folder (`exports/onnx/`), where the server can answer from them
(ftlab.deploy.onnx_runtime) and the Export tab zips them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from ftlab import modeling, tasks
from ftlab.runs import export as run_export
from ftlab.runs.run_dir import RunDir, with_weights

FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
"""Export format -> its file in the export folder."""

PREDICT = '''"""Classify texts with the exported model: python predict.py "first text" "second text" ...
Needs onnxruntime, numpy and transformers (for the tokenizer); no torch."""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

HERE = Path(__file__).parent
MODEL = "{model}"  # or model-int8.onnx: smaller and faster, see README.md for what it costs
tok = AutoTokenizer.from_pretrained(HERE)
labels = json.loads((HERE / "labels.json").read_text())
session = ort.InferenceSession(str(HERE / MODEL), providers=["CPUExecutionProvider"])


def predict(texts):
    enc = tok(texts, truncation=True, max_length={max_length}, padding=True, return_tensors="np")
    logits = session.run(None, {{i.name: enc[i.name].astype(np.int64) for i in session.get_inputs()}})[0]
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return [dict(zip(labels, map(float, p))) for p in probs]


if __name__ == "__main__":
    for text, p in zip(sys.argv[1:], predict(sys.argv[1:])):
        print(max(p, key=p.get), round(max(p.values()), 4), text)
'''


def folder(run_id: str) -> Path:
    return RunDir(run_id).path / "exports" / "onnx"


def export_onnx(run_id: str) -> Path:
    """Export the run's classifier (fp32 and int8) into its `exports/onnx/` folder, once; returns the folder."""
    run, _ = with_weights(run_id)
    cfg = run.config()
    if tasks.get(cfg.task).try_out != "classify":
        raise ValueError(f"run {run_id} is a {cfg.task} run: ONNX export is for classifiers; export chat as GGUF")
    out = folder(run_id)
    if all((out / f).is_file() for f in FILES.values()):
        return out
    labels = run.status().get("labels", [])
    with tempfile.TemporaryDirectory(prefix="ftlab-onnx-") as tmp:
        staged = Path(tmp) / "onnx"
        staged.mkdir()
        merged = run_export.export(run_id, Path(tmp) / "merged", merge=True)
        tok = modeling.load_tokenizer(merged)
        model = tasks.get(cfg.task).load_model(merged, labels=labels).eval()
        _to_onnx(model, tok, staged / FILES["onnx"])
        _to_int8(staged / FILES["onnx"], staged / FILES["onnx-int8"])
        tok.save_pretrained(staged)
        names = labels or [model.config.id2label[i] for i in range(model.config.num_labels)]
        (staged / "labels.json").write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
        (staged / "predict.py").write_text(PREDICT.format(model=FILES["onnx"], max_length=cfg.train.max_length),
                                           encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), out)
    return out


def _to_onnx(model, tok, path: Path) -> None:
    """torch.onnx's exporter, batch and sequence length dynamic, the tokenizer's inputs as the graph's inputs."""
    import torch

    names = [n for n in tok.model_input_names if n in ("input_ids", "attention_mask", "token_type_ids")]
    example = tok(["an example text", "another, a little longer, example text"], padding=True, return_tensors="pt")
    inputs = {n: example[n] for n in names}
    axes = {n: {0: torch.export.Dim("batch"), 1: torch.export.Dim("sequence")} for n in names}
    program = torch.onnx.export(model, (), kwargs=inputs, input_names=names, output_names=["logits"],
                                dynamic_shapes=axes, dynamo=True, verbose=False)
    program.save(str(path))


def _to_int8(src: Path, dst: Path) -> None:
    """onnxruntime's dynamic quantization: int8 weights, activations quantized per batch at run time."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(src))
    del model.graph.value_info[:]  # the exporter's shape notes trip the quantizer's own shape inference
    bare = dst.with_name(dst.stem + "-bare.onnx")
    onnx.save(model, str(bare))
    try:
        quantize_dynamic(str(bare), str(dst), weight_type=QuantType.QInt8)
    finally:
        bare.unlink(missing_ok=True)
