"""Benchmark: ftlab's DPO against TRL's DPOTrainer at its defaults, on the same model, pairs, steps and batch,
alternated run by run, medians compared (the driver, meter and table are benchmarks/bench_train.py's).

Run:  .venv/bin/python benchmarks/bench_dpo.py [--repeats 3] [--systems ftlab,ftlab-fp32,trl,trl-bf16]

Workload: SmolLM2-135M-Instruct (bundled), LoRA r=16 alpha 32 on all linear layers, beta 0.1, batch 4 pairs,
16 steps: the 64 pairs of benchmarks/data/dpo_pairs.jsonl, each once. Systems: `ftlab` (its defaults:
the reference's log-probabilities computed once before the first step, precision auto), `ftlab-fp32` (the same
in fp32), `trl` (DPOTrainer with its defaults but bf16=False: its default bf16=True refuses to start on a machine
without a GPU unless use_cpu is set too; the reference is the same weights with the adapter off, run at every
step, and gradient checkpointing is on, TRL's default), `trl-bf16` (the same with bf16=True and use_cpu=True). Time is what training costs: for ftlab the reference pass and the steps, for TRL its steps
(which hold its reference passes); loading and tokenizing left out. Tokens are the non-padding tokens of the
batches each system built (chosen and rejected rows, prompt included); peak RSS is the process's.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_train  # noqa: E402 - the shared driver, meter and table
from bench_train import Meter, emit, matmul_gflops  # noqa: E402

PAIRS, BATCH, STEPS, BETA = 64, 4, 16, 0.1
SYSTEMS = ["ftlab", "ftlab-fp32", "trl", "trl-bf16"]


def pairs() -> list[dict]:
    """64 pairs of the first concise_pairs sample (rambling fillers as the rejected replies), kept here so the
    workload stays the same when the sample changes."""
    return [json.loads(line) for line in (bench_train.DATA / "dpo_pairs.jsonl").read_text().splitlines()][:PAIRS]


def ftlab_run(system: str, folder: Path) -> dict:
    import threading

    from ftlab.config import RunConfig
    from ftlab.runs.run_dir import RunDir
    from ftlab.train import engine

    (folder / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs()))
    cfg = RunConfig(task="preference", method="lora")
    cfg.data.path, cfg.data.val_fraction = str(folder / "pairs.jsonl"), 0.0
    cfg.preference.beta = BETA
    t = cfg.train
    t.batch_size, t.max_steps, t.learning_rate, t.max_length, t.log_every = BATCH, STEPS, 5e-5, 512, 1
    t.precision = "fp32" if system == "ftlab-fp32" else "auto"
    meter = Meter(system, 0, 4)

    def on_event(event: dict) -> None:
        if "tokens_per_s" in event:  # a step's rows: each pair's chosen and rejected
            seconds = 2 * BATCH / event["samples_per_s"]
            tokens = round(event["tokens_per_s"] * seconds)
            meter.tokens, meter.rows = meter.tokens + tokens, meter.rows + 2 * BATCH
            meter.padded += round(tokens / (1 - event["padding"]))
            meter.step(seconds)

    s = engine.setup(cfg)
    run = RunDir.create(cfg)
    trainer = engine.Trainer(cfg, run, threading.Event(), on_event)
    began = time.perf_counter()
    engine._prepare(trainer, s)
    meter.seconds += time.perf_counter() - began  # the reference pass is part of what DPO costs
    trainer.total = STEPS
    trainer.train(s)
    return meter.result(s.autocast and "bf16" or "fp32")


def trl_run(system: str, folder: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from ftlab import modeling

    path = modeling.resolve("HuggingFaceTB/SmolLM2-135M-Instruct").path
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    meter = Meter(system, 0, 4)
    rows = [{"prompt": [{"role": "user", "content": p["prompt"]}],
             "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs()]
    bf16 = system == "trl-bf16"
    args = DPOConfig(output_dir=str(folder / "out"), per_device_train_batch_size=BATCH, max_steps=STEPS, beta=BETA,
                     save_strategy="no", report_to="none", logging_steps=4,
                     **({"bf16": True, "use_cpu": True} if bf16 else {"bf16": False}))
    trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=AutoTokenizer.from_pretrained(path),
                         callbacks=bench_train.hf_callbacks(meter),
                         peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                task_type="CAUSAL_LM"))
    trainer.data_collator = bench_train.counting(trainer.data_collator, meter)
    trainer.train()
    return meter.result("bf16" if bf16 else "fp32")


def one(system: str) -> None:
    import os

    folder = Path(tempfile.mkdtemp(prefix=f"bench-{system}-"))
    os.environ.setdefault("FTLAB_HOME", str(Path(tempfile.gettempdir()) / "ftlab-bench-home"))
    result = (trl_run if system.startswith("trl") else ftlab_run)(system, folder)
    result["matmul_gflops"] = round(matmul_gflops(result.get("precision", "fp32")), 1)
    emit({"result": True, **result})


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--one")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--cap-s", type=float, default=900)
    args = parser.parse_args()
    if args.one:
        one(args.one)
    else:
        bench_train.__file__ = __file__  # the driver runs this file's systems in their own processes
        results = {s: [] for s in args.systems.split(",")}
        for _ in range(args.repeats):
            for system in results:
                results[system].append(bench_train.measure(system, args.cap_s))
                emit(results[system][-1])
        print(bench_train.table(results))
