"""The app is killed (SIGKILL) in the middle of a run: on the next start the run shows as interrupted, and
resuming it from its last checkpoint completes it."""

from __future__ import annotations

import signal
import time

import pytest

from conftest import launch_app, stop_app
from gradio_client import Client

pytestmark = pytest.mark.slow  # starts and kills the app


def wait_for(client: Client, run_id: str, done, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.predict(run_id, api_name="/status")
        if done(status):
            return status
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} never got there: {status}")


def test_a_run_of_a_killed_app_shows_interrupted_and_resumes_to_completion(tiny_llama, tmp_path):
    proc, url = launch_app(tmp_path)
    client = Client(url, verbose=False)
    settings = {"max_steps": 300, "save_every": 5, "batch_size": 2, "max_length": 64}
    run_id = client.predict("chat", "pirate_chat", str(tiny_llama), "lora", settings, api_name="/start_training")
    wait_for(client, run_id, lambda s: s.get("step", 0) >= 12)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    proc, url = launch_app(tmp_path)
    try:
        client = Client(url, verbose=False)
        status = client.predict(run_id, api_name="/status")
        assert status["state"] == "interrupted" and 12 <= status["step"] < 300
        assert client.predict(run_id, api_name="/resume_training") == run_id
        final = wait_for(client, run_id, lambda s: s["state"] not in ("queued", "running", "stopping"))
        assert final["state"] == "completed" and final["step"] == 300, final.get("error")
        resumed_from = int(final["resumed"].split("resumed from step ")[1].split(";")[0])
        assert 10 <= resumed_from <= status["step"] and resumed_from % 5 == 0
        steps = [m["step"] for m in final["metrics"] if "train_loss" in m]
        assert steps == list(range(1, 301))  # every step once: the ones after the checkpoint were written again
    finally:
        stop_app(proc)
