"""Benchmark: ftlab's training engine against TRL's SFTTrainer and a plain transformers Trainer on the same model,
rows, steps and machine, alternated run by run, medians compared.

Run:  .venv/bin/pip install -r benchmarks/requirements.txt
      .venv/bin/python benchmarks/bench_train.py [--repeats 3] [--tasks chat,classify] [--cap-s 300]

Workloads (the files come from benchmarks/workload.py, committed in benchmarks/data/):
- chat: SmolLM2-135M-Instruct (the bundled model), LoRA r=8 alpha 16 on all linear layers, max length 512,
  batch 4, 40 steps: exactly the 160 training rows of instructions.jsonl once. Systems: `ftlab` (its defaults:
  length-grouped batches, loss on the assistant's tokens, precision auto), `trl` (SFTTrainer with default
  settings, but bf16=False: TRL's own default, bf16=True, refuses to start on a CPU without bf16 support
  ("Your setup doesn't support bf16/gpu"), so its runnable default here is fp32), `trl-bf16` (SFTTrainer with
  bf16=True and use_cpu=True, which it then asks for).
- classify: all-MiniLM-L6-v2 (bundled), max length 256, batch 16, 20 steps over reviews.csv (3 labels).
  Systems: `ftlab-lora` / `hf-lora` (LoRA r=8 on all linear layers, head trained) and `ftlab-full` / `hf-full`
  (every weight), the `hf-` ones a plain transformers Trainer with dynamic padding (DataCollatorWithPadding).
Each run is its own process (`--one SYSTEM`), so its peak RSS is its own; it prints a JSON line per finished step
and one for the run. Non-padding tokens are counted from the batches each system actually built; time is the
training steps alone (model loading and evaluation left out), so tokens/s and samples/s compare like with like.
A run that passes --cap-s seconds is stopped and measured over the steps it finished (TRL with bf16 on a CPU
without bf16 units takes minutes per step).
Achieved FLOP/s: ~4 x parameters x tokens for LoRA (no weight gradients), ~6 x for full fine-tuning, counting the
parameters that multiply (the input embedding table does not), against a 2048^3 matmul measured in the same
process and precision. ftlab's chat loss skips the output layer where no token is trained, so the same formula
gives it credit for work it did not do: read tokens/s first.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DATA = Path(__file__).resolve().parent / "data"
SYSTEMS = {"chat": ["ftlab", "trl", "trl-bf16"], "classify": ["ftlab-lora", "hf-lora", "ftlab-full", "hf-full"]}
CHAT = {"rows": 160, "max_length": 512, "batch": 4, "steps": 40, "lr": 2e-4}
CLASSIFY = {"rows": 320, "max_length": 256, "batch": 16, "steps": 20, "lr": 5e-4}


def classify_split() -> tuple[list[dict], list[dict]]:
    """The first 320 reviews train (20 steps of 16: each once), the rest validate."""
    with open(DATA / "reviews.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows[: CLASSIFY["rows"]], rows[CLASSIFY["rows"]:]


MARK = "BENCH "
"""Prefix of the lines a run reports on (Trainer prints its own dicts on stdout)."""


def emit(record: dict) -> None:
    print(MARK + json.dumps(record), flush=True)


def matmul_gflops(dtype_name: str) -> float:
    import torch

    dtype = getattr(torch, {"bf16": "bfloat16", "fp16": "float16"}.get(dtype_name, "float32"))
    a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
    a @ b
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < 2 and n < 20:
        a @ b
        n += 1
    return 2 * 2048**3 * n / (time.perf_counter() - start) / 1e9


def matmul_params(task: str) -> int:
    """Parameters of the workload's model that multiply activations: all but the input embedding table (a tied
    output layer shares that table but does multiply, so it is counted once)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    from ftlab import modeling
    from ftlab import tasks

    config = AutoConfig.from_pretrained(modeling.resolve(tasks.get(task).default_model).path)
    with torch.device("meta"):
        model = (AutoModelForCausalLM if task == "chat" else AutoModelForSequenceClassification).from_config(config)
    embedding = model.get_input_embeddings().weight.numel()
    tied = task == "chat" and getattr(config, "tie_word_embeddings", False)
    return model.num_parameters() - (0 if tied else embedding)


class Meter:
    """Counts the batches a system trains on and times its steps; prints progress as it goes."""

    def __init__(self, system: str, params: int, flops_per_token_param: int):
        self.system, self.params, self.k = system, params, flops_per_token_param
        self.tokens = self.padded = self.rows = self.steps = 0
        self.seconds = 0.0

    def batch(self, mask) -> None:
        self.tokens, self.padded, self.rows = self.tokens + int(mask.sum()), self.padded + mask.numel(), \
            self.rows + mask.shape[0]

    def step(self, seconds: float) -> None:
        self.steps, self.seconds = self.steps + 1, self.seconds + seconds
        emit({"progress": self.system, **self.result()})

    def result(self, precision: str = "") -> dict:
        s = max(self.seconds, 1e-9)
        out = {"system": self.system, "steps": self.steps, "seconds": round(self.seconds, 2),
               "nonpad_tokens": self.tokens, "padded_tokens": self.padded, "tokens_per_s": round(self.tokens / s, 1),
               "samples_per_s": round(self.rows / s, 3),
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        if precision:
            out["precision"] = precision
            out["achieved_gflops"] = round(self.k * self.params * self.tokens / s / 1e9, 1)
        return out


# ftlab ---------------------------------------------------------------------------------------------------------
def ftlab_run(system: str, folder: Path) -> dict:
    from ftlab.train import engine
    from ftlab.config import RunConfig
    from ftlab.runs.run_dir import RunDir

    chat = system == "ftlab"
    cfg = RunConfig(task="chat" if chat else "classify", method="full" if system.endswith("full") else "lora")
    w = CHAT if chat else CLASSIFY
    if chat:
        rows = (DATA / "instructions.jsonl").read_text().splitlines()
        (folder / "train.jsonl").write_text("\n".join(rows[: w["rows"]]) + "\n")
        (folder / "val.jsonl").write_text("\n".join(rows[w["rows"]:]) + "\n")
        cfg.data.path, cfg.data.val_path = str(folder / "train.jsonl"), str(folder / "val.jsonl")
    else:
        train_rows, val_rows = classify_split()
        for name, part in (("train.csv", train_rows), ("val.csv", val_rows)):
            with open(folder / name, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=["text", "label"])
                writer.writeheader()
                writer.writerows(part)
        cfg.data.path, cfg.data.val_path = str(folder / "train.csv"), str(folder / "val.csv")
    cfg.lora.r, cfg.lora.alpha = 8, 16
    t = cfg.train
    t.max_length, t.batch_size, t.max_steps, t.learning_rate = w["max_length"], w["batch"], w["steps"], w["lr"]
    t.eval_every, t.log_every = 10**6, 1
    cfg.eval.generate_rows, cfg.eval.report_rows, cfg.eval.probe_count = 0, 8, 0
    run = RunDir.create(cfg)
    meter = Meter(system, 0, 6 if cfg.method == "full" else 4)

    def on_event(event: dict) -> None:  # one metrics record per step (log_every 1)
        if "tokens_per_s" in event:
            seconds = w["batch"] / event["samples_per_s"]
            tokens = round(event["tokens_per_s"] * seconds)
            meter.tokens, meter.rows = meter.tokens + tokens, meter.rows + w["batch"]
            meter.padded += round(tokens / (1 - event["padding"]))
            meter.step(seconds)

    result = engine.run(cfg, run, on_event=on_event)
    assert result.state == "completed", result
    meter.params = matmul_params(cfg.task)
    return meter.result(run.status().get("precision", "fp32"))


# TRL and the plain Trainer -------------------------------------------------------------------------------------
def hf_callbacks(meter: Meter):
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        began = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self.began = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            meter.step(time.perf_counter() - self.began)

    return [Clock()]


def counting(collator, meter: Meter):
    def collate(features):
        batch = collator(features)
        meter.batch(batch["attention_mask"])
        return batch

    return collate


def trl_run(system: str, folder: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from ftlab import modeling

    path = modeling.resolve("HuggingFaceTB/SmolLM2-135M-Instruct").path
    rows = [json.loads(line) for line in (DATA / "instructions.jsonl").read_text().splitlines()][: CHAT["rows"]]
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    meter = Meter(system, matmul_params("chat"), 4)
    bf16 = system == "trl-bf16"
    args = SFTConfig(output_dir=str(folder / "out"), max_length=CHAT["max_length"],
                     per_device_train_batch_size=CHAT["batch"], max_steps=CHAT["steps"],
                     learning_rate=CHAT["lr"], save_strategy="no", report_to="none", logging_steps=10,
                     **({"bf16": True, "use_cpu": True} if bf16 else {"bf16": False}))
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=AutoTokenizer.from_pretrained(path), callbacks=hf_callbacks(meter),
                         peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                                task_type="CAUSAL_LM"))
    trainer.data_collator = counting(trainer.data_collator, meter)
    trainer.train()
    return meter.result("bf16" if bf16 else "fp32")


def hf_classify_run(system: str, folder: Path) -> dict:
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    from ftlab import modeling

    path = modeling.resolve("sentence-transformers/all-MiniLM-L6-v2").path
    tok = AutoTokenizer.from_pretrained(path)
    rows = classify_split()[0]
    labels = sorted({r["label"] for r in rows})
    ds = Dataset.from_list([{**tok(r["text"], truncation=True, max_length=CLASSIFY["max_length"]),
                             "labels": labels.index(r["label"])} for r in rows])
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
    if system == "hf-lora":
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                                 task_type="SEQ_CLS"))
    meter = Meter(system, matmul_params("classify"), 4 if system == "hf-lora" else 6)
    args = TrainingArguments(output_dir=str(folder / "out"), per_device_train_batch_size=CLASSIFY["batch"],
                             max_steps=CLASSIFY["steps"], learning_rate=CLASSIFY["lr"], save_strategy="no",
                             report_to="none", logging_steps=10)
    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=hf_callbacks(meter),
                      data_collator=counting(DataCollatorWithPadding(tok), meter))
    trainer.train()
    return meter.result("fp32")


def one(system: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{system}-"))
    os.environ.setdefault("FTLAB_HOME", str(Path(tempfile.gettempdir()) / "ftlab-bench-home"))  # models converted once
    run = ftlab_run if system.startswith("ftlab") else trl_run if system.startswith("trl") else hf_classify_run
    result = run(system, folder)
    result["matmul_gflops"] = round(matmul_gflops(result.get("precision", "fp32")), 1)
    emit({"result": True, **result})


# the driver ----------------------------------------------------------------------------------------------------
def measure(system: str, cap_s: float) -> dict:
    """Run `system` in its own process; a run past `cap_s` is stopped and measured over its finished steps."""
    log = Path(tempfile.mkstemp(prefix=f"bench-{system}-", suffix=".log")[1])
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--one", system], stdout=subprocess.PIPE, text=True,
                                stderr=err, cwd=ROOT)
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    last, deadline = {"system": system, "steps": 0}, time.time() + cap_s
    while reader.is_alive() or not lines.empty():
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            if time.time() > deadline:
                proc.kill()
                last["capped_at_s"] = cap_s
                break
            continue
        if line.startswith(MARK):
            last = json.loads(line[len(MARK):])
    if proc.wait() not in (0, -9) and "result" not in last:
        print(f"{system} failed; its log ({log}) ends:\n" + log.read_text()[-3000:], file=sys.stderr)
    last.pop("progress", None)
    last.pop("result", None)
    return last


def table(results: dict[str, list[dict]]) -> str:
    """Medians over the runs that trained (a run that failed to start is counted in `runs`, not in the numbers)."""
    lines = ["| system | runs (trained) | steps | non-pad tokens | padded tokens | tokens/s (median) | samples/s | "
             "peak RSS MB | precision | achieved GFLOP/s | matmul GFLOP/s |", "|" + "---|" * 11]
    for system, runs in results.items():
        done = [r for r in runs if r.get("steps")] or [{"steps": 0}]

        def med(key, done=done):
            return statistics.median(r.get(key, 0) for r in done)

        r = done[0]
        lines.append(f"| {system} | {len(runs)} ({len([d for d in done if d['steps']])}) | {r['steps']}"
                     f"{' (capped)' if 'capped_at_s' in r else ''} | {r.get('nonpad_tokens', 0):,} | "
                     f"{r.get('padded_tokens', 0):,} | {med('tokens_per_s'):,.1f} | {med('samples_per_s'):.3f} | "
                     f"{med('peak_rss_mb'):,.0f} | {r.get('precision', '?')} | {med('achieved_gflops'):,.1f} | "
                     f"{med('matmul_gflops'):,.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tasks", default="chat,classify")
    parser.add_argument("--cap-s", type=float, default=900)
    parser.add_argument("--systems", default="", help="only these systems (comma-separated)")
    args = parser.parse_args()
    if args.one:
        return one(args.one)
    systems = [s for task in args.tasks.split(",") for s in SYSTEMS[task]
               if not args.systems or s in args.systems.split(",")]
    results: dict[str, list[dict]] = {s: [] for s in systems}
    for _ in range(args.repeats):
        for system in systems:
            results[system].append(measure(system, args.cap_s))
            emit(results[system][-1])
    print(table(results))


if __name__ == "__main__":
    main()
