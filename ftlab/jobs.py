"""JobManager: runs one training job at a time in a background thread and answers snapshots for the UI.

The UI never touches a thread or a model: it calls start / stop / snapshot with ids. Job state lives on the
server (and in the run directory), so a reloaded page reattaches to the running job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from ftlab import train
from ftlab.config import RunConfig
from ftlab.runs import RunDir, list_runs


class Busy(Exception):
    """Another job holds the training slot."""


@dataclass
class Job:
    run: RunDir
    cfg: RunConfig
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    result: train.RunResult | None = None


class JobManager:
    def __init__(self, on_finish=None):
        self._lock = threading.Lock()
        self._active: Job | None = None
        self._on_finish = on_finish or (lambda job: None)

    def active_id(self) -> str | None:
        job = self._active
        return job.run.id if job and job.thread and job.thread.is_alive() else None

    def start(self, cfg: RunConfig) -> str:
        """Validate `cfg`, create its run directory and start training; raise Busy or ValueError."""
        problems = cfg.validate()
        if problems:
            raise ValueError("; ".join(problems))
        with self._lock:
            busy = self.active_id()
            if busy:
                raise Busy(f"busy: run {busy} is training; wait for it to finish or stop it, then start again")
            job = Job(RunDir.create(cfg), cfg)
            job.thread = threading.Thread(target=self._work, args=(job,), name=f"train-{job.run.id}", daemon=True)
            self._active = job
            job.thread.start()
        return job.run.id

    def _work(self, job: Job) -> None:
        job.result = train.run(job.cfg, job.run, job.stop)
        self._on_finish(job)

    def stop(self, run_id: str) -> bool:
        """Ask the running job to stop after its current step and save; False if it is not running."""
        job = self._active
        if not job or job.run.id != run_id or not self.active_id():
            return False
        job.stop.set()  # the training thread alone writes the run's status; snapshots show "stopping" meanwhile
        return True

    def wait(self, run_id: str, timeout: float | None = None) -> dict:
        job = self._active
        if job and job.run.id == run_id and job.thread:
            job.thread.join(timeout)
        return self.snapshot(run_id)

    def snapshot(self, run_id: str) -> dict:
        """Status and metrics of a run, live or finished."""
        run = RunDir(run_id)
        if not run.exists():
            return {"run_id": run_id, "state": "unknown", "error": f"no run {run_id}"}
        live = run_id == self.active_id()  # checked before reading: a finished thread has written its state
        status = run.status_given(live)
        if live and self._active.stop.is_set():
            status["state"] = "stopping"
        return {"run_id": run_id, **status, "metrics": run.metrics(), "now": time.time()}

    def runs(self) -> list[dict]:
        return list_runs({self.active_id()} - {None})
