"""An exported ONNX classifier answered by onnxruntime on the CPU: texts (or text pairs) in, {label: probability}
out, cut where the run's training cut them. The server answers `/v1/classify` for a model named `<run>:onnx` or
`<run>:onnx-int8` from it (ftlab.serve.model_server)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class OnnxClassifier:
    task = "classify"

    def __init__(self, folder: Path, file: str, max_length: int):
        import onnxruntime as ort

        from ftlab import modeling

        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        self.session = ort.InferenceSession(str(folder / file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = modeling.load_tokenizer(folder)
        self.labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.max_length = max_length
        self.lock = threading.Lock()

    def probabilities(self, firsts: list[str], seconds: list[str] | None = None) -> list[dict]:
        import numpy as np

        from ftlab.data import encode

        enc = encode.classification_inputs(self.tokenizer, firsts, seconds, self.max_length, padding=True,
                                           return_tensors="np")
        with self.lock:
            logits = self.session.run(None, {n: enc[n].astype(np.int64) for n in self.inputs})[0]
        logits = logits.astype(np.float64)
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        return [{n: float(p[j]) for j, n in enumerate(self.labels)} for p in probs]
