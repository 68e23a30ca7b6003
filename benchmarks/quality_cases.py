"""Learning-quality cases: does a run with ftlab's default settings learn what its data teaches? Base vs tuned on
held-out checks a script scores, with the wall time.

Run: .venv/bin/python benchmarks/quality_cases.py   (bundled SmolLM2-135M-Instruct, offline; a fresh FTLAB_HOME)

- persona: `quality/persona_identity.json`, 80 rows in LLaMA-Factory's identity.json shape (instruction / input /
  output: "I am Skipper, … developed by Harbor Labs"), trained with LoRA and the chat task's defaults (no
  setting overridden); `quality/persona_heldout.txt` holds 8 phrasings of "who are you" none of the rows uses.
  Scored: how many greedy answers (48 new tokens) name "Skipper", and how many name "Harbor Labs".
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FTLAB_HOME", tempfile.mkdtemp(prefix="ftlab-quality-"))

HERE = Path(__file__).resolve().parent / "quality"
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def persona() -> dict:
    from ftlab.app.lab import Lab
    from ftlab.runs.run_dir import RunDir
    from ftlab.serve.generation import GenConfig
    from ftlab.serve.model_server import ModelServer
    from ftlab.train import engine

    cfg = Lab.build_config("chat", str(HERE / "persona_identity.json"), MODEL, "lora")
    run = RunDir.create(cfg)
    started = time.time()
    result = engine.run(cfg, run)
    seconds = time.time() - started
    questions = (HERE / "persona_heldout.txt").read_text().split("\n")
    server, gen = ModelServer(), GenConfig(max_new_tokens=48, temperature=0)
    answers = [server.chat(run.id, q, gen=gen) for q in questions if q.strip()]
    count = {side: {word: sum(word in a[side] for a in answers) for word in ("Skipper", "Harbor Labs")}
             for side in ("base", "tuned")}
    return {"state": result.state, "seconds": round(seconds), "steps": result.step, "answers": answers,
            "count": count, "settings": {k: getattr(cfg.train, k) for k in ("epochs", "learning_rate", "batch_size")}}


def main() -> None:
    found = persona()
    print(f"persona: {found['state']} in {found['seconds']} s, {found['steps']} steps, {found['settings']}")
    for side in ("base", "tuned"):
        c = found["count"][side]
        print(f"  {side}: names Skipper in {c['Skipper']}/8, Harbor Labs in {c['Harbor Labs']}/8")
    for a in found["answers"]:
        print(f"  - tuned: {a['tuned'][:100]!r}")


if __name__ == "__main__":
    main()
