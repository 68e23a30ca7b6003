"""Benchmark: what each export format costs, for a SmolLM2-135M chat run and an all-MiniLM-L6-v2 classifier.

Run: .venv/bin/python benchmarks/bench_deploy.py [rounds]   (bundled models, offline; FTLAB_HOME is a fresh folder)
1. Chat: SmolLM2-135M-Instruct, LoRA on `pirate_chat` (30 steps, lr 1e-3, fp32), then ftlab.deploy.costs on its
   validation rows: size, load time, greedy tokens/s (4 prompts, up to 48 new tokens each) and perplexity of the
   trained tokens for transformers (the run unexported) and llama.cpp on GGUF f16 / q8_0 / q4_k_m.
2. Classifier: all-MiniLM-L6-v2 fine-tuned in full on `sentiment` (3 epochs), then the same for PyTorch, ONNX fp32
   and ONNX int8: size, load time, rows/s and accuracy / macro F1 on the validation split.
The measurements of each round alternate the formats (costs measures them one after another); medians of `rounds`.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FTLAB_HOME", tempfile.mkdtemp(prefix="ftlab-bench-deploy-"))


def trained(task: str, model: str, data: str, method: str, **train) -> str:
    from ftlab.app.lab import Lab
    from ftlab.runs.run_dir import RunDir
    from ftlab.train import engine

    cfg = Lab.build_config(task, data, model, method, **train, **{"eval.report_rows": 0, "eval.generate_rows": 0})
    cfg.train.precision = "fp32"
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


def medians(rounds: list[list[dict]]) -> list[dict]:
    out = []
    for i, row in enumerate(rounds[0]):
        merged = dict(row)
        for key in ("load_s", "speed"):
            merged[key] = round(statistics.median(r[i][key] for r in rounds), 2)
        out.append(merged)
    return out


def main(rounds: int = 3) -> None:
    from ftlab.deploy import costs

    chat = trained("chat", "HuggingFaceTB/SmolLM2-135M-Instruct", "pirate_chat", "lora", max_steps=30,
                   learning_rate=1e-3)
    classify = trained("classify", "sentence-transformers/all-MiniLM-L6-v2", "sentiment", "full", epochs=3)
    for name, run_id, measure in (("chat", chat, costs.chat_costs), ("classifier", classify, costs.classify_costs)):
        print(f"\n{name} run {run_id}, median of {rounds}:\n")
        print(costs.table(medians([measure(run_id) for _ in range(rounds)])))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
