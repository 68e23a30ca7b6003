"""Benchmark: does watching a run slow it down? The same training run headless (`python -m ftlab train`), and
in the app while it is watched in two ways (see `in_app`, `watch`), alternated, medians compared.

Run: .venv/bin/python benchmarks/dashboard_overhead.py [repeats] [modes, default headless,polled; add train-tab]
(bundled SmolLM2-135M, LoRA, offline)
Reports the training time of steps 1..N from each run's metrics.jsonl (model loading and the evaluations before
and after are left out: they are the same work either way) and the slowdown of the watched runs.
"""

from __future__ import annotations

import json
import os
import resource
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
    from ftlab.app.lab import Lab

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
    """The same run started through the app's API and watched in `mode` by a separate process at the lowest CPU
    priority (nice 19): a user's browser runs on the user's computer, not beside the training, and this is the
    nearest a one-machine benchmark gets to that. What is left is the app's own work for the watcher."""
    from gradio_client import Client

    home = folder / f"{mode}-{time.time_ns()}"
    home.mkdir()
    proc, url = launch_app(home)
    try:
        run_id = Client(url, verbose=False).predict("chat", "pirate_chat", "", "lora", SETTINGS,
                                                    api_name="/start_training")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["nice", "-n", "19", sys.executable, __file__, "--watch", mode, url, run_id], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        stop_app(proc)
    watcher_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"{mode}: the watcher and its browser used {watcher_cpu:.1f} CPU s", flush=True)
    return train_seconds(home)


def watch(mode: str, url: str, run_id: str) -> None:
    """Watch a run until it ends: "polled" fetches what the dashboard shows (the run's status with every metric
    and its probe answers) every 2 s; "train-tab" is Chromium showing the live Train tab, which polls the same
    way and redraws the plots."""
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    client = Client(url, verbose=False)
    with sync_playwright() as p:
        browser = None
        if mode == "train-tab":
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.get_by_role("tab", name="3. Train").click()  # reattaches to the run and polls it
        while client.predict(run_id, api_name="/status")["state"] in ("queued", "running", "stopping"):
            time.sleep(2 if mode == "polled" else 5)
        if browser:
            browser.close()


MODES = ("headless", "polled", "train-tab")
"""headless first: the others are compared with it."""


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main(repeats: int = 3, modes: tuple = MODES[:2]) -> None:
    """Alternate the modes `repeats` times (A/B/C, A/B/C, ...) so drift in the machine's speed hits all alike, and
    compare medians."""
    folder = Path(tempfile.mkdtemp(prefix="ftlab-bench-"))
    cfg = config_yaml(folder)
    results = {mode: [] for mode in modes}
    for _ in range(repeats):
        for mode in modes:
            results[mode].append(headless(folder, cfg) if mode == "headless" else in_app(folder, mode))
            print(json.dumps({k: [round(v, 2) for v in vs] for k, vs in results.items()}), flush=True)
    base = median(results["headless"])
    for mode in modes[1:]:
        print(f"steps 1..{SETTINGS['max_steps']}, median of {repeats}: headless {base:.2f} s, {mode} "
              f"{median(results[mode]):.2f} s: {100 * (median(results[mode]) / base - 1):+.1f} %")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--watch"]:
        watch(*sys.argv[2:5])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 3,
             tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else MODES[:2])
