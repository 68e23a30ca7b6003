"""How long a run waits before its first training step, with and without the base model's evaluation reused.

Two runs of the app's default chat setup (SmolLM2-135M-Instruct, LoRA, the `pirate_chat` sample), one optimizer
step each, one after the other (the kept evaluations cleared before each pair; the converted model kept, so
both runs load it alike): the first measures the base model (step 0) and keeps the
result, the second (another learning rate: nothing the base's evaluation depends on) takes it. The figure is the
time from the run's start to its first step done, read from its metrics (each record's `time`).

    .venv/bin/python benchmarks/base_eval_reuse.py [repeats]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def first_step_s(learning_rate: float) -> tuple[float, str | None]:
    from ftlab.train import engine
    from ftlab.config import RunConfig
    from ftlab.runs.run_dir import RunDir

    cfg = RunConfig(task="chat", method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.batch_size, cfg.train.max_length = 1, learning_rate, 4, 256
    cfg.eval.report_rows = 2  # the final report is not what is measured
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    first = next(m["time"] for m in run.metrics() if "train_loss" in m)
    return first, run.status().get("base_reused_from")


def main(repeats: int = 2) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["FTLAB_HOME"] = home = tempfile.mkdtemp(prefix="ftlab-bench-")
    from ftlab import modeling
    from ftlab import tasks

    modeling.resolve(tasks.get("chat").default_model)  # converted once, before anything is timed
    for i in range(repeats):
        shutil.rmtree(os.path.join(home, "base_evals"), ignore_errors=True)
        measured, _ = first_step_s(2e-4)
        reused, source = first_step_s(1e-4)
        print(f"repeat {i + 1}: first step after {measured:.1f} s measuring the base, {reused:.1f} s reusing it "
              f"(from {source})", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
