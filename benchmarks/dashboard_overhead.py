"""Benchmark: does watching a run slow it down? The same training run headless (`python -m ftlab train`), and
in the app while it is watched in three ways (see `in_app`), one after the other.

Run: .venv/bin/python benchmarks/dashboard_overhead.py [repeats]   (bundled SmolLM2-135M, LoRA, offline)
Reports the training time of steps 1..N from each run's metrics.jsonl (model loading and the evaluations before
and after are left out: they are the same work either way) and the slowdown of the watched runs.
"""

from __future__ import annotations

import json
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

SETTINGS = {"max_steps": 40, "batch_size": 4, "max_length": 128, "eval_every": 1000, "log_every": 1,
            "eval.generate_rows": 0, "eval.report_rows": 4}
"""The same settings go to the CLI (as run.yaml) and to the app (through its start_training API)."""


def config_yaml(folder: Path) -> Path:
    from ftlab.service import Lab

    cfg = Lab.build_config("chat", "pirate_chat", "", "lora", **SETTINGS)
    path = folder / "run.yaml"
    cfg.to_yaml(path)
    return path


def train_seconds(home: Path) -> float:
    """Wall time from the first to the last training step of the only run under `home`."""
    (run,) = list((home / "runs").iterdir())
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    times = [m["time"] for m in steps if "train_loss" in m]
    return times[-1] - times[0]


def headless(folder: Path, cfg: Path) -> float:
    home = folder / f"headless-{time.time_ns()}"
    env = {**os.environ, "FTLAB_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "ftlab", "train", str(cfg)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return train_seconds(home)


def in_app(folder: Path, mode: str) -> float:
    """The same run started through the app's API, while `mode`: "polled" (a client fetches what the dashboard
    shows, the run's status with every metric and its probe answers, every 2 s: the server's side of a watcher
    whose browser is elsewhere), "train-tab" (Chromium on this machine shows the live dashboard), "data-tab"
    (Chromium on this machine shows another tab: the cost of a browser alone)."""
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    home = folder / f"{mode}-{time.time_ns()}"
    home.mkdir()
    proc, url = launch_app(home)
    try:
        client = Client(url, verbose=False)
        run_id = client.predict("chat", "pirate_chat", "", "lora", SETTINGS, api_name="/start_training")
        with sync_playwright() as p:
            browser = None
            if mode != "polled":
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                            args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                page.goto(url)
                if mode == "train-tab":
                    page.get_by_role("tab", name="2. Train").click()  # reattaches to the run and polls it
            while client.predict(run_id, api_name="/status")["state"] in ("queued", "running", "stopping"):
                time.sleep(2 if mode == "polled" else 5)
            if browser:
                browser.close()
    finally:
        stop_app(proc)
    return train_seconds(home)


MODES = ("headless", "polled", "train-tab", "data-tab")


def main(repeats: int = 1) -> None:
    folder = Path(tempfile.mkdtemp(prefix="ftlab-bench-"))
    cfg = config_yaml(folder)
    results = {mode: [] for mode in MODES}
    for _ in range(repeats):
        for mode in MODES:
            results[mode].append(headless(folder, cfg) if mode == "headless" else in_app(folder, mode))
            print({k: [round(v, 2) for v in vs] for k, vs in results.items()}, flush=True)
    mean = {k: sum(v) / len(v) for k, v in results.items()}
    for mode in MODES[1:]:
        print(f"steps 1..{SETTINGS['max_steps']}: headless {mean['headless']:.2f} s, {mode} {mean[mode]:.2f} s: "
              f"{100 * (mean[mode] / mean['headless'] - 1):+.1f} %")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
