"""Data-parallel training with `accelerate launch`: two processes (CPU here, gloo) share every step's batches,
so an epoch takes half the steps; one run directory is written, by the main process, and the result loads."""

from __future__ import annotations

import pytest

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import free_port

from ftlab.config import RunConfig

pytestmark = pytest.mark.slow  # two processes under accelerate launch

ROOT = Path(__file__).resolve().parent.parent


def test_accelerate_launch_two_processes_trains_one_run_in_half_the_steps(tiny_llama, tmp_path):
    cfg = RunConfig(task="chat", model=str(tiny_llama), method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.epochs, cfg.train.batch_size, cfg.train.max_length = 0.25, 4, 64
    cfg.to_yaml(tmp_path / "run.yaml")
    home = tmp_path / "home"
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "ftlab", "train", str(tmp_path / "run.yaml")]
    env = {**os.environ, "FTLAB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "(2 processes)" in proc.stdout and proc.stdout.count("completed at step") == 1
    runs = list((home / "runs").iterdir())
    assert len(runs) == 1
    status = json.loads((runs[0] / "status.json").read_text())
    # 144 training rows, batch 4: 36 batches an epoch; a quarter epoch is 9 steps alone, 5 shared by two
    assert (status["state"], status["processes"], status["total_steps"]) == ("completed", 2, 5)
    assert (runs[0] / "adapter" / "adapter_model.safetensors").is_file()
