"""JobManager: a queue of training jobs, one running at a time (one device), in a background worker thread.

The UI never touches a thread or a model: it calls start / resume / stop / cancel / snapshot with run ids. Starts
while a job runs wait in line with a visible position and can be taken out of it (cancel). Stop ends a run after
its current step and saves it; cancel ends it without saving. Job state lives on the server and in the run
directory, so a reloaded page reattaches, and a restarted app shows what it was running as interrupted.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir, list_runs

MAX_WAITING = 8
RESUMABLE = ("stopped", "interrupted", "failed")


class Busy(Exception):
    """The queue is full."""


@dataclass
class Job:
    run: RunDir
    cfg: RunConfig
    resume: bool = False
    previous: str = ""
    """A queued resume: the state to go back to if it is taken out of the queue."""
    stop: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    measure: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: engine.RunResult | None = None
    owner: str | None = None
    """Who queued it, on a shared server (see JobManager.per_owner)."""


class JobManager:
    def __init__(self, on_finish=None, max_waiting: int = MAX_WAITING, per_owner: int = 0):
        """`per_owner`: on a shared server, how many runs one owner may have waiting (0: no cap of its own), so
        one session can't fill the queue for everyone."""
        self._lock = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._active: Job | None = None
        self._jobs: dict[str, Job] = {}
        self._on_finish = on_finish or (lambda job: None)
        self._max_waiting = max_waiting
        self._per_owner = per_owner
        self._worker: threading.Thread | None = None

    # submitting ---------------------------------------------------------------------------------------------
    def start(self, cfg: RunConfig, owner: str | None = None) -> str:
        """Validate `cfg`, create its run directory (owned by `owner` in shared mode) and queue it; returns the run
        id. Raises ValueError or Busy."""
        problems = cfg.validate()
        if problems:
            raise ValueError("; ".join(problems))
        with self._lock:
            self._check_room(owner)
            return self._enqueue(Job(RunDir.create(cfg, owner), cfg, owner=owner))

    def resume(self, run_id: str, owner: str | None = None) -> str:
        """Queue a stopped, interrupted or failed run to go on from its last checkpoint, in the same run."""
        run = RunDir(run_id)
        if not run.exists():
            raise ValueError(f"no run {run_id}")
        with self._lock:
            state = run.status_given(self._is_live(run_id)).get("state")
            if state not in RESUMABLE:
                raise ValueError(f"run {run_id} is {state}; only a {', '.join(RESUMABLE)} run can be resumed")
            self._check_room(owner)
            run.write_status(state="queued", note=None)
            return self._enqueue(Job(run, run.config(), resume=True, previous=state, owner=owner))

    def _check_room(self, owner: str | None) -> None:
        if len(self._waiting) >= self._max_waiting:
            raise Busy(f"busy: {len(self._waiting)} runs are already waiting; try again when one has finished")
        mine = sum(1 for job in self._waiting if owner and job.owner == owner)
        if self._per_owner and owner and mine >= self._per_owner:
            raise Busy(f"busy: you already have {mine} runs waiting, the most one person may queue on this shared "
                       "server; cancel one or wait until one starts")

    def _enqueue(self, job: Job) -> str:
        self._waiting.append(job)
        self._jobs[job.run.id] = job
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._loop, name="training-queue", daemon=True)
            self._worker.start()
        self._lock.notify_all()
        return job.run.id

    # the worker ---------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                job = self._active = self._waiting.popleft()
            try:
                job.result = engine.run(job.cfg, job.run, job.stop, resume=job.resume, cancel=job.cancel,
                                        measure=job.measure)
                self._on_finish(job)
            finally:
                with self._lock:
                    self._active = None
                job.done.set()

    # controlling --------------------------------------------------------------------------------------------
    def stop(self, run_id: str) -> bool:
        """Stop the running job after its current step and save it (a waiting one just leaves the queue)."""
        return self._signal(run_id, "stop", "stopped before it started")

    def cancel(self, run_id: str) -> bool:
        """Take a waiting job out of the queue, or end the running one at once without saving it."""
        return self._signal(run_id, "cancel", "taken out of the queue")

    def measure(self, run_id: str) -> bool:
        """Ask the running job to evaluate after its current step (an auto-tune study compares its trials at equal
        times). False if it is not running."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job is not self._active or job.done.is_set():
                return False
            job.measure.set()
            return True

    def _signal(self, run_id: str, event: str, why_waiting: str) -> bool:
        """Set the running job's `event` (stop or cancel); a waiting job leaves the queue. False if not live."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.done.is_set():
                return False
            if job in self._waiting:
                return self._drop(job, why_waiting)
            getattr(job, event).set()  # the training thread alone writes the run's status from here on
            return True

    def _drop(self, job: Job, why: str) -> bool:
        self._waiting.remove(job)
        if job.previous:  # a resume that never started: the run is as it was, still resumable
            job.run.write_status(state=job.previous, note=f"resume {why}")
        else:
            job.run.write_status(state="cancelled", note=why, finished=time.time())
        job.done.set()
        return True

    def wait(self, run_id: str, timeout: float | None = None) -> dict:
        job = self._jobs.get(run_id)
        if job:
            job.done.wait(timeout)
        return self.snapshot(run_id)

    # reading ------------------------------------------------------------------------------------------------
    def active_id(self) -> str | None:
        job = self._active
        return job.run.id if job else None

    def waiting_ids(self) -> list[str]:
        with self._lock:
            return [job.run.id for job in self._waiting]

    def delete(self, run_id: str) -> None:
        """Remove a finished run's folder (weights, checkpoints, metrics). A queued or running run must be stopped
        or cancelled first: ValueError."""
        with self._lock:
            if self._is_live(run_id):
                raise ValueError(f"run {run_id} is still queued or running: stop or cancel it first")
            self._jobs.pop(run_id, None)
            run = RunDir(run_id)
            if not run.exists():
                raise ValueError(f"no run {run_id}")
            shutil.rmtree(run.path)

    def _is_live(self, run_id: str) -> bool:
        job = self._jobs.get(run_id)
        return bool(job) and not job.done.is_set()

    def snapshot(self, run_id: str) -> dict:
        """Status and metrics of a run, live or finished; a waiting run has its place in the queue."""
        run = RunDir(run_id)
        if not run.exists():
            return {"run_id": run_id, "state": "unknown", "error": f"no run {run_id}"}
        live = self._is_live(run_id)  # checked before reading: a finished job has written its state
        status = run.status_given(live)
        job = self._jobs.get(run_id)
        if live and job.stop.is_set() and status.get("state") == "running":
            status["state"] = "stopping"
        waiting = self.waiting_ids()
        if run_id in waiting:
            status["queue_position"] = waiting.index(run_id) + 1
        return {"run_id": run_id, **status, "metrics": run.metrics(), "now": time.time()}

    def runs(self) -> list[dict]:
        live = {run_id for run_id in self._jobs if self._is_live(run_id)}
        return list_runs(live)
