"""Benchmark: the OpenAI-compatible API against raw transformers, and the memory of the compare view.

Run: .venv/bin/python benchmarks/api_speed.py   (bundled SmolLM2-135M, offline; trains a 2-step LoRA run first)
1. Streaming speed: the same greedy reply (128 new tokens) from `model.generate` in this process, and streamed
   through POST /v1/chat/completions of the running app (official `openai` client); tokens/s of each, 3 tries.
2. Memory: a process's resident memory grows by X loading the base model alone and answering with it, by Y
   loading a LoRA run for the base-vs-tuned view and answering with both sides (one copy of the base, the adapter
   switched off and on); the ratio Y / X.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from conftest import launch_app, stop_app  # noqa: E402 - the tests' launcher: the real app on a free port

BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"
PROMPT = "Write a long story about a ship, its crew and the sea."
TOKENS = 128


def lora_run() -> str:
    from ftlab.train import engine
    from ftlab.app.lab import Lab

    cfg = Lab.build_config("chat", "pirate_chat", BASE, "lora", max_steps=2, **{"eval.report_rows": 2})
    from ftlab.runs.run_dir import RunDir

    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


def raw_tokens_per_s() -> float:
    import torch

    from ftlab import modeling
    from ftlab.data import encode

    where = modeling.resolve(BASE).path
    tok, model = modeling.load_tokenizer(where), modeling.load_model(where, "causal_lm").eval()
    ids = torch.tensor([encode.prompt_ids(tok, [{"role": "user", "content": PROMPT}])])
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(input_ids=ids, max_new_tokens=TOKENS, min_new_tokens=TOKENS, do_sample=False)
        best = max(best, (out.shape[1] - ids.shape[1]) / (time.perf_counter() - start))
    return best


def api_tokens_per_s(url: str) -> float:
    import openai

    from ftlab import modeling

    tok = modeling.load_tokenizer(modeling.resolve(BASE).path)
    client = openai.OpenAI(base_url=f"{url}v1", api_key="-", max_retries=0, timeout=600)
    best = 0.0
    for _ in range(3):
        start, text = time.perf_counter(), ""
        stream = client.chat.completions.create(model=BASE, messages=[{"role": "user", "content": PROMPT}],
                                                temperature=0, max_tokens=TOKENS, stream=True)
        for chunk in stream:
            text += chunk.choices[0].delta.content or ""
        best = max(best, len(tok(text)["input_ids"]) / (time.perf_counter() - start))
    return best


def rss_growth(run_id: str | None) -> float:
    """MB the process grows by loading the base (run_id None) or the run's base-vs-tuned pair."""
    code = ("import psutil, sys; from ftlab.serve.model_server import ModelServer; p = psutil.Process(); "
            "import torch, transformers, peft; before = p.memory_info().rss; "
            f"server = ModelServer(); run = {run_id!r}; "
            f"server.chat(run, 'Hi', gen=__import__('ftlab.serve.generation').generate.GenConfig(max_new_tokens=4), "
            f"base_ref={BASE!r} if run is None else ''); "  # both sides answer: every weight page is touched
            "print((p.memory_info().rss - before) / 2**20)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="ftlab-api-bench-"))
    os.environ["FTLAB_HOME"] = str(home)
    run_id = lora_run()
    raw = raw_tokens_per_s()
    proc, url = launch_app(home)
    try:
        api = api_tokens_per_s(url)
    finally:
        stop_app(proc)
    print(f"streaming: raw generate {raw:.1f} tokens/s, API stream {api:.1f} tokens/s ({100 * api / raw:.0f} %)")
    base, pair = rss_growth(None), rss_growth(run_id)
    print(f"memory: base alone +{base:.0f} MB, LoRA compare view +{pair:.0f} MB ({pair / base:.2f}x)")


if __name__ == "__main__":
    main()
