"""Benchmark: how long the Data tab's insight panel takes for a 10,000-row upload, from the file on disk to the
finished result (read, validate, clean, split, load the tokenizer, tokenize every row, render one example).

Run: .venv/bin/python benchmarks/insight_10k.py   (uses the bundled SmolLM2 and MiniLM tokenizers, offline)
Prints one line per dataset: the upload check (read, validate, clean: what the Data tab shows first), then the
wall time of each of 3 insight runs. Heavy libraries are imported first, as the app does at start-up; the first
insight run includes loading that model's tokenizer.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import warm_up  # noqa: E402 - the imports the app makes at start-up
from ftlab import tasks  # noqa: E402
from ftlab.app.lab import Lab  # noqa: E402

WORDS = ("the ship sails at dawn and the crew sings of gold silver storms maps islands treasure parrots rum "
         "captain harbour wind waves north south").split()


def sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def write_chat(path: Path, n: int, rng: random.Random) -> None:
    with open(path, "w") as f:
        for i in range(n):
            turns = [{"role": "system", "content": "You are a pirate."}] if i % 3 == 0 else []
            for _ in range(rng.choice((1, 1, 2))):
                turns += [{"role": "user", "content": f"{i}: " + sentence(rng, 5, 60)},
                          {"role": "assistant", "content": sentence(rng, 5, 120)}]
            f.write(json.dumps({"messages": turns}) + "\n")


def write_classification(path: Path, n: int, rng: random.Random) -> None:
    with open(path, "w") as f:
        f.write("text,label\n")
        for i in range(n):
            f.write(f"\"{i}: {sentence(rng, 5, 80)}\",{rng.choice(('positive', 'negative', 'neutral'))}\n")


def main(n: int = 10_000) -> None:
    warm_up()
    rng = random.Random(0)
    folder = Path(tempfile.mkdtemp(prefix="ftlab-bench-"))
    cases = [("chat", folder / "chat.jsonl", write_chat), ("classify", folder / "reviews.csv", write_classification)]
    for task, path, writer in cases:
        writer(path, n, rng)
        start = time.perf_counter()
        Lab().inspect(str(path))  # what the Data tab does on upload: read, validate, clean
        upload = time.perf_counter() - start
        times = []
        for _ in range(3):  # what the Analyse button does; the first includes loading the model's tokenizer
            start = time.perf_counter()
            result = Lab().insight(str(path), tasks.get(task).default_model, 256)
            times.append(time.perf_counter() - start)
        size = path.stat().st_size / 2**20
        print(f"{task}: {path.name} {n} rows ({size:.1f} MB), mean {result['mean_length']:.0f} tokens, "
              f"{result['truncated']} over 256; upload check {upload:.2f} s; insight "
              + ", ".join(f"{t:.2f} s" for t in times))

if __name__ == "__main__":
    main()
