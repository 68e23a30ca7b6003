"""The run directory: `$FTLAB_HOME/runs/<run_id>/` with config.yaml, status.json, metrics.jsonl and weights.

status.json is written atomically (tmp + os.replace) so a crash never leaves half a file. A run whose status
says it was running, but that no live job in this process owns, was interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from pathlib import Path

from ftlab import events, paths, tasks
from ftlab.config import RunConfig

ACTIVE_STATES = {"queued", "running", "stopping"}
RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


PHASES = ("loading", "reference", "head_probe", "base_eval", "base_reused", "training", "eval", "checkpoint", "saving",
          "report", "done")
"""What a live run's status says it is doing (`phase`; `phase_step` for an evaluation, `first_use` while a
bundled model is converted): codes, which the UI names in the person's language."""


def new_run_id(cfg: RunConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{cfg.task}-{cfg.method}"
    run_id, n = base, 1
    while (paths.runs_dir() / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


class OwnerKey(str):
    """An owner known only by its stored key (a study going on after a restart): kept as it is."""


def owner_key(owner: str) -> str:
    """A session id or login name as it is stored and used in folder names."""
    if isinstance(owner, OwnerKey):
        return str(owner)
    return hashlib.sha256(owner.encode()).hexdigest()[:24]


def read_json(path: Path):
    """A JSON file's content, or None when it is missing or damaged."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


class RunDir:
    """One run's files."""

    def __init__(self, run_id: str):
        if not RUN_ID.match(run_id or ""):
            raise ValueError(f"not a run id: {run_id!r}")
        self.id = run_id
        self.path = paths.runs_dir() / run_id

    @classmethod
    def create(cls, cfg: RunConfig, owner: str | None = None) -> "RunDir":
        """A new run directory; `owner` (shared mode) is kept as a hash in its own file, never in config.yaml.
        Uploaded data the run reads is kept with it (`cfg` is pointed at the run's copy)."""
        run = cls(new_run_id(cfg))
        run.path.mkdir(parents=True)
        if owner:
            (run.path / "owner").write_text(owner_key(owner))
        run.keep_uploads(cfg)
        cfg.to_yaml(run.path / "config.yaml")
        run.write_status(state="queued", step=0, total_steps=0, created=time.time())
        return run

    def keep_uploads(self, cfg: RunConfig) -> None:
        """Link (or copy) the uploaded files `cfg.data` names into the run's data/ folder and point `cfg` there:
        an upload goes when its browser session ends, and the run must still resume, re-run and report."""
        uploads = paths.uploads_dir().resolve()
        for field in ("path", "val_path"):
            source = Path(getattr(cfg.data, field) or "")
            if not source.name or not source.is_file() or not source.resolve().is_relative_to(uploads):
                continue
            target = self.path / "data" / field / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source.resolve(), target)  # no second copy of a large file on the same disk
            except OSError:
                shutil.copyfile(source, target)
            setattr(cfg.data, field, str(target))

    def exists(self) -> bool:
        return (self.path / "config.yaml").is_file()

    def owned_by(self, owner: str | None) -> bool:
        try:
            return bool(owner) and (self.path / "owner").read_text() == owner_key(owner)
        except OSError:
            return False

    def config(self) -> RunConfig:
        return RunConfig.from_yaml(self.path / "config.yaml")

    def save_config(self, cfg: RunConfig) -> None:
        """Write what the run really trains with (an automatic batch size, say), atomically: a resume or a
        rerun of config.yaml must go on with it, not with what was asked."""
        tmp = self.path / "config.yaml.tmp"
        cfg.to_yaml(tmp)
        os.replace(tmp, self.path / "config.yaml")

    def _read_status(self) -> dict:
        try:
            return json.loads((self.path / "status.json").read_text())
        except (OSError, ValueError):
            return {}

    def status(self) -> dict:
        return self._read_status() or {"state": "unknown"}

    def status_given(self, live: bool) -> dict:
        """The status; a run that says it is active while no live job owns it (`live`) is marked interrupted."""
        status = self.status()
        if status.get("state") in ACTIVE_STATES and not live:
            status = self.write_status(state="interrupted", error="the app stopped while this run was active")
        return status

    def write_status(self, **fields) -> dict:
        status = {**self._read_status(), **events.with_codes(fields), "updated": time.time()}
        write_json_atomic(self.path / "status.json", status)
        return status

    def append_metrics(self, record: dict, log: str = "metrics") -> None:
        """Add a record to metrics.jsonl (or `log`.jsonl: samples holds the probe answers)."""
        with open(self.path / f"{log}.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    def keep_metrics_until(self, step: int) -> None:
        """Drop the metrics and probe answers recorded after `step` (a resumed run writes them again)."""
        for log in ("metrics", "samples"):
            kept = [m for m in self.metrics(log) if m.get("step", 0) <= step]
            tmp = self.path / f"{log}.jsonl.tmp"
            tmp.write_text("".join(json.dumps(m) + "\n" for m in kept))
            tmp.replace(self.path / f"{log}.jsonl")

    def metrics(self, log: str = "metrics") -> list[dict]:
        try:
            lines = (self.path / f"{log}.jsonl").read_text().splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def write_json(self, name: str, obj) -> None:
        write_json_atomic(self.path / name, obj)

    def read_json(self, name: str):
        """A JSON file of the run (report.json, base.json), or None when it is missing or damaged."""
        return read_json(self.path / name)

    @property
    def adapter_dir(self) -> Path:
        return self.path / "adapter"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    def weights_dir(self) -> Path | None:
        for folder in (self.adapter_dir, self.model_dir):
            if (folder / "config.json").is_file() or (folder / "adapter_config.json").is_file():
                return folder
        return None

    def tokenizer_dir(self) -> Path:
        """Where the run's tokenizer is: beside its weights (saved with them), else its base model's folder."""
        from ftlab import modeling

        weights = self.weights_dir()
        if weights is not None and (weights / "tokenizer_config.json").is_file():
            return weights
        return modeling.resolve(self.config().model_ref()).path


def _duration(status: dict) -> float | None:
    if not status.get("started"):
        return None
    return round((status.get("finished") or status.get("updated") or time.time()) - status["started"], 1)


def list_runs(live: set[str] = frozenset()) -> list[dict]:
    """Every run, newest first, as dicts for tables; runs marked active but not in `live` show as interrupted."""
    out = []
    for folder in sorted(paths.runs_dir().iterdir(), reverse=True):
        if not folder.is_dir() or not RUN_ID.match(folder.name):
            continue
        run = RunDir(folder.name)
        if not run.exists():
            continue
        status = run.status_given(run.id in live)
        try:
            cfg = run.config()
        except (OSError, ValueError) as exc:  # one damaged folder must not hide the others (or stop the app)
            out.append(damaged(run, status, exc))
            continue
        out.append({"run_id": run.id, "state": status.get("state"), "task": cfg.task, "method": cfg.method,
                    "model": cfg.model_ref(), "data": Path(cfg.data.path).name, "step": status.get("step", 0),
                    "loss": status.get("train_loss"), "eval_loss": status.get("eval_loss"),
                    "key_metric": status.get(getattr(tasks.find(cfg.task), "key_metric", "eval_loss")),
                    "duration_s": _duration(status), "has_weights": run.weights_dir() is not None})
    return out


def with_weights(run_id: str, error: type[Exception] = ValueError) -> tuple[RunDir, Path]:
    """A run and the folder of its saved weights; `error` saying why when there is no such run or no weights."""
    run = RunDir(run_id)
    if not run.exists():
        raise error(f"no run {run_id}")
    weights = run.weights_dir()
    if weights is None:
        raise error(f"run {run_id} has no saved weights yet (state: {run.status().get('state')})")
    return run, weights


def damaged(run: RunDir, status: dict, exc: Exception) -> dict:
    """The runs list's row of a run whose config cannot be read: state "damaged", and why."""
    return {"run_id": run.id, "state": "damaged", "problem": str(exc), "task": "", "method": "", "model": "",
            "data": "", "step": status.get("step", 0), "loss": None, "eval_loss": None, "key_metric": None,
            "duration_s": _duration(status), "has_weights": False}


class ReadOnlyRun(RunDir):
    """The run directory as the other processes of a data-parallel group see it: they read, the main one writes."""

    def write_status(self, **fields) -> dict:
        return self.status()

    def append_metrics(self, record: dict, log: str = "metrics") -> None:
        pass

    def keep_metrics_until(self, step: int) -> None:
        pass

    def write_json(self, name: str, obj) -> None:
        pass

    def save_config(self, cfg: RunConfig) -> None:
        pass
