"""Benchmark: streaming chat through the running app's POST /v1/chat/completions, the transformers path against the
llama.cpp path (the run's GGUF export), with 1 and 8 concurrent clients.

Run: .venv/bin/python benchmarks/bench_serving.py [rounds]   (bundled SmolLM2-135M, offline)
A LoRA run of SmolLM2-135M-Instruct on `pirate_chat` (30 steps) is exported as GGUF q8_0 and f16. Each client
streams greedy replies (up to 96 new tokens) to its own prompt with the official `openai` client (one client per
user, made before timing); the figure is
all clients' streamed tokens (counted with the run's tokenizer) over the wall time. The paths alternate within each
round: model `<run>` with FTLAB_CHAT_RUNTIME=transformers, then `<run>:gguf-q8_0` and `<run>:gguf-f16`. Medians.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from conftest import launch_app, stop_app  # noqa: E402 - the tests' launcher: the real app on a free port

BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"
PROMPTS = ["Tell me about the sea.", "What is the capital of Italy?", "How do I sort a list in Python?",
           "Give me a tip for staying focused.", "Why is the sky blue?", "Name three planets.",
           "What do ships carry?", "How do tides work?"]
TOKENS = 96


def stream(client, model: str, prompt: str, tok) -> int:
    text = ""
    for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                                temperature=0, max_tokens=TOKENS, stream=True):
        text += chunk.choices[0].delta.content or ""
    return len(tok(text, add_special_tokens=False)["input_ids"])


def tokens_per_s(clients: list, model: str, tok) -> float:
    """All clients at once, each streaming its own prompt: their tokens over the wall time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        made = sum(pool.map(lambda i: stream(clients[i], model, PROMPTS[i % len(PROMPTS)], tok),
                            range(len(clients))))
    return made / (time.perf_counter() - started)


def main(rounds: int = 3) -> None:
    from ftlab import modeling
    from ftlab.app.lab import Lab
    from ftlab.deploy import gguf_export
    from ftlab.runs.run_dir import RunDir
    from ftlab.train import engine

    home = Path(tempfile.mkdtemp(prefix="ftlab-serving-bench-"))
    # the three paths stay loaded side by side (the app keeps two models by default): nothing reloads between tries
    os.environ.update(FTLAB_HOME=str(home), FTLAB_CHAT_RUNTIME="transformers", FTLAB_MAX_LOADED="3")
    cfg = Lab.build_config("chat", "pirate_chat", BASE, "lora", max_steps=30, learning_rate=1e-3,
                           **{"eval.report_rows": 0, "eval.generate_rows": 0})
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    for kind in ("q8_0", "f16"):
        gguf_export.build_gguf(run.id, kind)
    tok = modeling.load_tokenizer(modeling.resolve(BASE).path)
    paths = {"transformers": run.id, "llama.cpp q8_0": f"{run.id}:gguf-q8_0", "llama.cpp f16": f"{run.id}:gguf-f16"}
    import openai

    proc, url = launch_app(home)
    try:  # one client (its own connection) per simulated user, made before timing
        clients = [openai.OpenAI(base_url=f"{url}v1", api_key="-", max_retries=0, timeout=600) for _ in range(8)]
        for model in paths.values():  # load each once before timing
            stream(clients[0], model, "Hi", tok)
        found = {(name, n): [] for name in paths for n in (1, 8)}
        for _ in range(rounds):
            for n in (1, 8):
                for name, model in paths.items():
                    found[(name, n)].append(tokens_per_s(clients[:n], model, tok))
    finally:
        stop_app(proc)
    print("| path | clients | tokens/s (median) | tries |\n|---|---|---|---|")
    for (name, n), values in found.items():
        print(f"| {name} | {n} | {statistics.median(values):.1f} | {', '.join(f'{v:.1f}' for v in values)} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
