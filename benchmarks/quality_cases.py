"""Learning-quality cases: does a run with ftlab's default settings learn what its data teaches? Base vs tuned on
held-out checks this script scores, with the wall time of each run. The sets are written by
`quality/make_sets.py` (see there what each holds).

Run: .venv/bin/python benchmarks/quality_cases.py [persona style sentiment topic]
     (bundled SmolLM2-135M-Instruct and all-MiniLM-L6-v2, offline; a fresh FTLAB_HOME)

- persona: SmolLM2 + LoRA on `persona_identity.json`; greedy answers (48 new tokens) to the 8 phrasings of
  `persona_heldout.txt` none of the rows uses. Scored: answers naming "Skipper", and "Harbor Labs".
- style: SmolLM2 + LoRA on `style_train.jsonl`; 8 new questions on topics the rows never mention. Scored: answers
  in the house style (a "•" bullet first, "Hope that helps!" in the reply).
- sentiment, topic: all-MiniLM-L6-v2 + LoRA; accuracy on the validation file (500 / 200 rows), base (an untrained
  head) vs tuned.
Each run takes the settings the app would start it with for that data, model and method (`Lab.suggest` when the
app has it, else the task's fixed defaults), nothing overridden.
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
CHAT, CLASSIFY = "HuggingFaceTB/SmolLM2-135M-Instruct", "sentence-transformers/all-MiniLM-L6-v2"
STYLE_QUESTIONS = ["Any tips for painting a room?", "How do I get better at chess?", "What should I know about "
                   "adopting a cat?", "Give me advice on writing a CV.", "I'm new to swimming. Where do I start?",
                   "Any tips for a road trip?", "How do I get better at drawing?", "What should I know about camping?"]


def train(task: str, path: Path, model: str, **data) -> tuple:
    from ftlab.app.lab import Lab
    from ftlab.runs.run_dir import RunDir
    from ftlab.train import engine

    options = {k: str(v) for k, v in data.items()}
    chosen = Lab().suggest(task, str(path), model, "lora", options)["settings"] if hasattr(Lab, "suggest") else {}
    cfg = Lab.build_config(task, str(path), model, "lora", **{**chosen, **options})
    run = RunDir.create(cfg)
    started = time.time()
    result = engine.run(cfg, run)
    settings = {k: getattr(cfg.train, k) for k in ("epochs", "learning_rate", "batch_size", "early_stopping_patience")}
    return run, {"state": result.state, "seconds": round(time.time() - started), "steps": result.step,
                 "settings": {**settings, "lora.r": cfg.lora.r}}


def answers(run_id: str, questions: list[str]) -> list[dict]:
    from ftlab.serve.generation import GenConfig
    from ftlab.serve.model_server import ModelServer

    server, gen = ModelServer(), GenConfig(max_new_tokens=48, temperature=0)
    return [server.chat(run_id, q, gen=gen) for q in questions]


def persona() -> dict:
    run, found = train("chat", HERE / "persona_identity.json", CHAT)
    said = answers(run.id, [q for q in (HERE / "persona_heldout.txt").read_text().split("\n") if q.strip()])
    checks = {"Skipper": lambda a: "Skipper" in a, "Harbor Labs": lambda a: "Harbor Labs" in a}
    return {**found, "score": {side: {k: sum(map(f, (a[side] for a in said))) for k, f in checks.items()}
                               for side in ("base", "tuned")}, "out_of": len(said), "answers": said}


def style() -> dict:
    run, found = train("chat", HERE / "style_train.jsonl", CHAT)
    said = answers(run.id, STYLE_QUESTIONS)
    styled = lambda a: a.lstrip().startswith("•") and "Hope that helps!" in a  # noqa: E731
    return {**found, "score": {side: {"house style": sum(styled(a[side]) for a in said)} for side in ("base", "tuned")},
            "out_of": len(said), "answers": said}


def accuracy(name: str) -> dict:
    from ftlab.runs.run_dir import RunDir

    run, found = train("classify", HERE / f"{name}_train.csv", CLASSIFY, val_path=HERE / f"{name}_val.csv")
    report = RunDir(run.id).read_json("report.json") or {}
    evals = [m for m in RunDir(run.id).metrics() if "eval_accuracy" in m]
    base = evals[0]["eval_accuracy"] if evals and evals[0]["step"] == 0 else None
    return {**found, "score": {"base": {"accuracy %": round(100 * base, 1) if base is not None else None},
                               "tuned": {"accuracy %": round(100 * evals[-1]["eval_accuracy"], 1)}},
            "best": round(100 * max(m["eval_accuracy"] for m in evals[1:]), 1), "report": bool(report)}


CASES = {"persona": persona, "style": style, "sentiment": lambda: accuracy("sentiment"),
         "topic": lambda: accuracy("topic")}


def main(names: list[str]) -> None:
    for name in names or list(CASES):
        found = CASES[name]()
        print(f"{name}: {found['state']} in {found['seconds']} s, {found['steps']} steps, {found['settings']}")
        for side in ("base", "tuned"):
            print(f"  {side}: " + ", ".join(f"{k} {v}" + (f"/{found['out_of']}" if "out_of" in found else "")
                                            for k, v in found["score"][side].items()))
        for a in found.get("answers", []):
            print(f"  - tuned: {a['tuned'][:90]!r}")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
