"""How much one mid-run evaluation swings from step to step, and how much an average of the last steps' weights does
(what an auto-tune study's rungs measure: ftlab/train/averaging.py). The sentiment quality set with MiniLM, a
trial's settings (LoRA at 1.9e-3 for 4 epochs, batch 16, a probed head, by default), evaluated every EVERY steps up
to LIMIT: each evaluation measures the run's own weights, then each moving average of DECAYS (kept here beside the
run, the run itself trains without one).

Run: .venv/bin/python benchmarks/bench_rung_noise.py [method lr epochs batch]   (EVERY=4 LIMIT=140 DECAYS=0.9,0.97)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("FTLAB_HOME", tempfile.mkdtemp(prefix="ftlab-rung-noise-"))

DECAYS = [float(x) for x in os.environ.get("DECAYS", "0.9,0.97").split(",")]
LIMIT, EVERY = int(os.environ.get("LIMIT", "140")), int(os.environ.get("EVERY", "4"))


def watch() -> dict:
    """Hook the trainer: keep the averages after each step (cancel at LIMIT) and evaluate them beside each
    evaluation of the run's own weights."""
    import torch

    from ftlab.eval import evaluator
    from ftlab.train import averaging, engine

    kept: dict = {}
    step, evaluate = engine.Trainer.step, evaluator.Evaluator.evaluate

    def stepped(self, s, batches, params, opt, sched):
        out = step(self, s, batches, params, opt, sched)
        if not kept:
            kept.update({d: averaging.Average(params, d) for d in DECAYS})
        for average in kept.values():
            average.update()
        self.steps_seen = getattr(self, "steps_seen", 0) + 1
        if self.steps_seen >= LIMIT:
            self.cancel.set()
        return out

    def evaluated(self, at, keep=None):
        found = evaluate(self, at, keep)
        for decay, average in kept.items():
            with average.applied(), torch.no_grad():
                found = {**found, f"average{decay}": evaluate(self, at, keep)["eval_accuracy"]}
        return found

    engine.Trainer.step, evaluator.Evaluator.evaluate = stepped, evaluated
    return kept


def main(args: list[str]) -> None:
    import bench_autotune as bench

    from ftlab.runs.run_dir import RunDir

    method, lr, epochs, batch = (args + ["lora", "1.9e-3", "4", "16"][len(args):])[:4]
    watch()
    lab = bench.lab()
    settings = {**bench.base_settings(lab, method), "learning_rate": float(lr), "epochs": float(epochs),
                "batch_size": int(batch), "eval_every": EVERY, "early_stopping_patience": 0,
                "classify.head_init": "probe", "warmup_ratio": 0.05}
    cfg = lab.build_config("classify", str(bench.HERE / "sentiment_train.csv"), bench.MODEL, method, **settings)
    run_id = lab.start(cfg.to_dict())
    lab.jobs.wait(run_id)
    print("step  its weights  " + "  ".join(f"average {d}" for d in DECAYS))
    for m in RunDir(run_id).metrics():
        if "eval_accuracy" in m and m["step"]:
            print(m["step"], round(100 * m["eval_accuracy"], 1),
                  *[round(100 * m[f"average{d}"], 1) for d in DECAYS])


if __name__ == "__main__":
    main(sys.argv[1:])
