"""Defaults vs a hand-run grid vs auto-tune, on the sentiment quality set (quality/sentiment_train.csv, 2,000
rows; quality/sentiment_val.csv, 500 rows) with all-MiniLM-L6-v2 (bundled), on this machine.

- defaults: the settings the app starts this data, model and LoRA with (Lab.suggest), nothing overridden.
- grid: method {lora, full} x learning rate {0.4x, 1x, 2.5x the method's default} x epochs {1, 3}: 12 runs, the
  other settings the defaults' (batch, max length), no early stopping.
- auto: Lab.tune from the defaults' config, 12 trials, no time limit (TPE; successive halving at equal training times).
Every run trains in bf16 (`precision: bf16`, what `auto` measures as this CPU's faster one): pinned, so that the
grid and the study are timed in one precision whatever a single measurement says.
Scored: the validation accuracy each run ends with (what its saved weights score); time: wall seconds of each
run (the study: from its start to its end).

Run: .venv/bin/python benchmarks/bench_autotune.py [defaults grid auto best]   (a fresh FTLAB_HOME; ~40 min here;
FTLAB_BENCH_TAG=x keeps the results as `defaults_x`... beside earlier ones; FTLAB_BENCH_SEED=n trains every run with
seed n instead of 42, which seeds a study's sampler too; FTLAB_BENCH_MINUTES=m gives the study a budget of m minutes
of training besides its 12 trials)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FTLAB_HOME", tempfile.mkdtemp(prefix="ftlab-autotune-"))

HERE = Path(__file__).resolve().parent / "quality"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DATA = {"val_path": str(HERE / "sentiment_val.csv")}
OUT = Path(__file__).resolve().parent / "autotune_results.json"


def lab():
    from ftlab.app.lab import Lab

    return Lab()


def base_settings(the_lab, method: str = "lora") -> dict:
    found = the_lab.suggest("classify", str(HERE / "sentiment_train.csv"), MODEL, method, DATA)["settings"]
    seed = os.environ.get("FTLAB_BENCH_SEED")  # another training seed (and so the study's sampler's): its own grid
    return {**found, **DATA, "precision": "bf16", **({"seed": int(seed)} if seed else {})}


def grid_settings(the_lab, method: str) -> dict:
    """A grid point's settings before its learning rate and epochs: the defaults', no early stopping."""
    return {**base_settings(the_lab, method), "early_stopping_patience": 0, "eval_every": 0}


def run(the_lab, method: str, **settings) -> dict:
    from ftlab.runs.run_dir import RunDir

    cfg = the_lab.build_config("classify", str(HERE / "sentiment_train.csv"), MODEL, method, **settings)
    started = time.time()
    run_id = the_lab.start(cfg.to_dict())
    snap = the_lab.jobs.wait(run_id)
    accuracy = [m["eval_accuracy"] for m in RunDir(run_id).metrics() if "eval_accuracy" in m][-1]
    return {"method": method, "learning_rate": cfg.train.learning_rate, "epochs": cfg.train.epochs,
            "state": snap["state"], "accuracy": round(100 * accuracy, 2), "seconds": round(time.time() - started, 1)}


def defaults(the_lab) -> list[dict]:
    return [run(the_lab, "lora", **base_settings(the_lab))]


def grid(the_lab) -> list[dict]:
    found = []
    for method in ("lora", "full"):
        settings = grid_settings(the_lab, method)
        for scale in (0.4, 1.0, 2.5):
            for epochs in (1, 3):
                found.append(run(the_lab, method, **{**settings, "learning_rate": settings["learning_rate"] * scale,
                                                     "epochs": epochs}))
                print(found[-1], flush=True)
    return found


def best(the_lab) -> list[dict]:
    """The best point of an earlier grid (FTLAB_BENCH_GRID names it, e.g. `grid_day9`) run again: with another
    FTLAB_BENCH_SEED, to compare the defaults with the grid's best on the mean of several seeds."""
    found = max(json.loads(OUT.read_text())[os.environ["FTLAB_BENCH_GRID"]], key=lambda r: r["accuracy"])
    settings = grid_settings(the_lab, found["method"])
    return [run(the_lab, found["method"], **{**settings, "learning_rate": found["learning_rate"],
                                             "epochs": found["epochs"]})]


def auto(the_lab) -> list[dict]:
    cfg = the_lab.build_config("classify", str(HERE / "sentiment_train.csv"), MODEL, "lora", **base_settings(the_lab))
    started = time.time()
    minutes = float(os.environ.get("FTLAB_BENCH_MINUTES", 0))  # a budget of training minutes too (0: none)
    study_id = the_lab.tune(cfg.to_dict(), trials=12, minutes=minutes)
    the_lab.studies.wait(study_id)
    snap = the_lab.study(study_id)
    seconds = time.time() - started
    trials = [{"trial": t["number"], "state": t["state"],
               "accuracy": round(100 * t["value"], 2) if t["value"] else None,
               "last": round(100 * t["last"], 2) if t["last"] else None, "minutes": t["minutes"], **t["settings"],
               "method": t["params"].get("method"), "curve": curve(t["run_id"])} for t in snap["trials"]]
    return [{"study": study_id, "seconds": round(seconds, 1), "best": round(100 * snap["best_value"], 2),
             "importance": snap["importance"], "trials": trials}]


def curve(run_id: str) -> list:
    """A trial's evaluations: [epoch, accuracy %, seconds since its run started]."""
    from ftlab.runs.run_dir import RunDir

    if not run_id or not RunDir(run_id).exists():
        return []
    per_epoch = RunDir(run_id).status().get("total_steps", 1) / max(RunDir(run_id).config().train.epochs, 1e-9)
    return [[round(m["step"] / per_epoch, 2), round(100 * m["eval_accuracy"], 1), round(m["time"], 1)]
            for m in RunDir(run_id).metrics() if "eval_accuracy" in m]


def main(parts: list[str]) -> None:
    the_lab = lab()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    tag = os.environ.get("FTLAB_BENCH_TAG", "")  # kept beside earlier results: `grid_<tag>`
    for part in parts or ["defaults", "grid", "auto"]:
        name = f"{part}_{tag}" if tag else part
        results[name] = globals()[part](the_lab)
        results[name + "_machine"] = f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"
        OUT.write_text(json.dumps(results, indent=1))
        print(name, json.dumps(results[name], indent=1), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
