"""Benchmark: what three of the engine's speed-ups are worth on their own, on this machine.

1. The loss through the output layer only where a token is trained (ftlab.tasks.lm_loss) vs the model's own forward with
   labels (logits for every position): one LoRA training step (forward + backward) of SmolLM2-135M on batches of 4
   length-grouped rows of benchmarks/data/instructions.jsonl (max length 512), alternated, median of 5 each.
2. Tokenization once (ftlab.data.token_cache): encoding 8,000 chat rows, then reading the same encoding back.
3. Recomputing only the layers a long batch needs (ftlab.train.recompute): one LoRA step of the 4 longest rows (512
   tokens) with every layer storing its activations, with the layers the 1 GB budget asks for recomputing, and with
   every layer recomputing (what whole-model gradient checkpointing does), alternated, median of 3, with the
   estimated peak of each.

Run: .venv/bin/python benchmarks/engine_parts.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FTLAB_HOME", str(Path(tempfile.gettempdir()) / "ftlab-bench-home"))
DATA = Path(__file__).resolve().parent / "data" / "instructions.jsonl"


def workload():
    """SmolLM2-135M with LoRA r=8 on all linear layers, its tokenizer, and the 160 rows encoded at 512 tokens."""
    from ftlab import methods, modeling, tasks
    from ftlab.data import encode
    from ftlab.config import RunConfig

    path = modeling.resolve(tasks.get("chat").default_model).path
    tok = modeling.load_tokenizer(path)
    cfg = RunConfig(task="chat", model=str(path), method="lora")
    cfg.lora.r, cfg.lora.alpha = 8, 16
    model = methods.get("lora").apply(modeling.load_model(path, "causal_lm"), cfg).train()
    rows = [json.loads(line)["messages"] for line in DATA.read_text().splitlines()[:160]]
    return model, tok, [encode.encode_chat(tok, m, 512) for m in rows]


def loss_paths() -> None:
    from ftlab.data import encode
    from ftlab.tasks import lm_loss

    model, tok, examples = workload()
    batches = encode.length_grouped_batches(examples, 4, seed=0)[:5]
    trained = sum(sum(x != -100 for x in e["labels"]) for b in batches for e in b)
    positions = sum(len(e["input_ids"]) for b in batches for e in b)

    def step(batch, shortcut: bool) -> float:
        tensors = encode.collate(batch, tok.pad_token_id)
        began = time.perf_counter()
        loss = lm_loss.causal_loss(model, tensors) if shortcut else model(**tensors).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        return time.perf_counter() - began

    times = {True: [], False: []}
    for batch in batches:
        for shortcut in (False, True):
            times[shortcut].append(step(batch, shortcut))
    full, short = statistics.median(times[False]), statistics.median(times[True])
    print(f"loss: {len(batches)} batches of 4 rows, {trained} of {positions} positions trained "
          f"({100 * trained / positions:.0f} %); step (fwd+bwd) median: full logits {full:.2f} s, "
          f"trained positions only {short:.2f} s: {full / short:.2f}x")


def recompute() -> None:
    from ftlab.tasks import lm_loss
    from ftlab.train import recompute
    from ftlab.data import encode

    model, tok, examples = workload()
    batch = encode.collate(sorted(examples, key=lambda e: -len(e["input_ids"]))[:4], tok.pad_token_id)
    rows, length = batch["input_ids"].shape
    scored = int((batch["labels"][:, 1:] != lm_loss.IGNORE).sum())
    policy = recompute.Policy(model, always=False, budget=1024)
    modes = {"every layer stores": 0, "the layers the budget asks for": policy.estimate.layers_to_recompute(
        rows, length, scored, 1024 * 2**20), "every layer recomputes": policy.estimate.layers}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(3):
        for mode, layers in modes.items():
            policy.set_layers(layers)
            began = time.perf_counter()
            lm_loss.causal_loss(model, batch).backward()
            model.zero_grad(set_to_none=True)
            times[mode].append(time.perf_counter() - began)
    for mode, layers in modes.items():
        peak = policy.estimate.peak(rows, length, scored, layers) / 2**30
        print(f"recompute: {rows} x {length} tokens, {mode} ({layers} of {policy.estimate.layers} layers "
              f"recomputed): step median {statistics.median(times[mode]):.2f} s, estimated activation peak "
              f"{peak:.2f} GB")


def tokenization() -> None:
    from ftlab import data, modeling, tasks
    from ftlab.train import run_setup
    from ftlab.config import RunConfig

    folder = Path(tempfile.mkdtemp(prefix="ftlab-tokens-"))
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    with open(folder / "big.jsonl", "w") as f:  # 8,000 distinct rows (exact duplicates would be dropped)
        for copy in range(40):
            for row in rows:
                user, answer = row["messages"]
                f.write(json.dumps({"messages": [{**user, "content": f"{user['content']} ({copy})"}, answer]}) + "\n")
    cfg = RunConfig(task="chat", model=tasks.get("chat").default_model)
    cfg.data.path, cfg.train.max_length = str(folder / "big.jsonl"), 512
    path = modeling.resolve(cfg.model).path
    tok = modeling.load_tokenizer(path)
    splits = data.load_splits(cfg.data, 0)
    os.environ["FTLAB_HOME"] = str(folder / "home")  # an empty cache
    timings = []
    for _ in range(2):
        began = time.perf_counter()
        run_setup._examples(cfg, splits, tok, path)
        timings.append(time.perf_counter() - began)
    print(f"tokenization of {len(splits.train) + len(splits.val):,} rows: first {timings[0]:.2f} s, "
          f"from the cache {timings[1]:.2f} s: {timings[0] / timings[1]:.1f}x")


if __name__ == "__main__":
    loss_paths()
    tokenization()
    recompute()
