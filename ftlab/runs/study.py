"""Auto-tune studies: an Optuna search (multivariate TPE sampler, successive halving on the validation metric at
equal training times, see study_clock) whose trials are normal runs in the training queue; the first trials are the
config's own settings and the other kind of method (full fine-tuning or an adapter) at its own default
(study_space.opening), each never stopped as the first of its kind.

A study lives in `$FTLAB_HOME/studies/<id>/`: `study.json` (the base config, the budget, the search space, its
state, the best run) and `journal.log`, Optuna's append-only journal of trials, parameters and the metric each
reported at every rung of its clock. Both survive a killed app: `Studies.resume_unfinished` (at start-up) resumes a
trial's interrupted run from its checkpoint and goes on with the study where it was.

Each trial is queued with `submit` (the app's own checks and a shared server's budgets apply), asked to evaluate at
each rung of its clock, and cancelled when it is clearly behind the others there (study_clock). The study's
budget: trials, minutes of training, and (a shared server) steps, so a search there costs no more than one run may.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

from ftlab import paths
from ftlab.config import RunConfig
from ftlab.runs import study_clock, study_space
from ftlab.runs.jobs import Busy
from ftlab.runs.run_dir import RUN_ID, OwnerKey, RunDir, owner_key, read_json, write_json_atomic

log = logging.getLogger(__name__)
POLL_S = 0.25
"""How often a study looks at its running trial (a rung is asked for within this of its time)."""
BUSY_RETRY_S = 5.0
"""How long a study waits before it tries again to queue a trial the queue had no room for."""
FINISHED = ("completed", "stopped", "failed", "cancelled")


def metric_of(task: str) -> tuple[str, str]:
    """(the validation metric a study optimises, its direction)."""
    return ("eval_accuracy", "maximize") if task == "classify" else ("eval_loss", "minimize")


def rung_key(rung: int | None) -> str:
    """The user attribute a trial keeps its metric at `rung` in (Studies._behind writes it, the report reads it)."""
    return f"rung_{rung}"


def optuna_study(folder, direction: str, seed: int = 42, load: bool = False):
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    sampler = optuna.samplers.TPESampler(n_startup_trials=4, seed=seed, multivariate=True, group=True,
                                         warn_independent_sampling=False)
    pruner = optuna.pruners.NopPruner()  # the study prunes at its rungs itself (study_clock)
    if load:
        return optuna.load_study(study_name="study", storage=storage, sampler=sampler, pruner=pruner)
    return optuna.create_study(study_name="study", storage=storage, direction=direction, sampler=sampler,
                               pruner=pruner)


class StudyDir:
    """One study's files."""

    def __init__(self, study_id: str):
        if not study_id.startswith("study-") or not RUN_ID.match(study_id):
            raise ValueError(f"not a study id: {study_id!r}")
        self.id, self.path = study_id, paths.studies_dir() / study_id

    def exists(self) -> bool:
        return (self.path / "study.json").is_file()

    def read(self) -> dict:
        return read_json(self.path / "study.json") or {}

    def update(self, **fields) -> dict:
        info = {**self.read(), **fields, "updated": time.time()}
        write_json_atomic(self.path / "study.json", info)
        return info

    def owned_by(self, owner: str | None) -> bool:
        return bool(owner) and self.read().get("owner") == owner_key(owner)


class Studies:
    """The app's studies, each searching in a thread of its own that queues one trial at a time."""

    _threads: dict[str, threading.Thread] = {}
    _stop: dict[str, threading.Event] = {}
    """Shared by every Studies of the process: a second app object on the same folder does not search twice."""

    def __init__(self, jobs, submit):
        """`jobs`: the JobManager (snapshots, resume, stop, cancel); `submit(cfg, owner)`: queue a trial's config
        as the app queues any run (its checks and budgets), returning the run id."""
        self.jobs, self.submit = jobs, submit

    def start(self, cfg: RunConfig, sp: dict, trials: int, minutes: float, owner: str | None = None,
              steps: int = 0, enqueue: list[dict] | None = None) -> str:
        """Make a study of `cfg` over the space `sp` with a budget of `trials`, `minutes` (0: none) and `steps`
        (0: none), and start searching; `enqueue`: parameters to try first. Returns the study id."""
        study_id = f"study-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        folder = StudyDir(study_id)
        folder.path.mkdir(parents=True)
        metric, direction = metric_of(cfg.task)
        study = optuna_study(folder.path, direction, cfg.train.seed)
        for params in enqueue or []:
            study.enqueue_trial(params)
        folder.update(id=study_id, owner=owner_key(owner) if owner else None, created=time.time(),
                      config=cfg.to_dict(), space=sp, metric=metric, direction=direction, state="running",
                      budget={"trials": int(trials), "minutes": float(minutes), "steps": int(steps)})
        self._launch(study_id, owner)
        return study_id

    def resume_unfinished(self) -> list[str]:
        """Go on with every study a killed app left running (its owner known by the key kept for it)."""
        resumed = []
        for folder in sorted(paths.studies_dir().iterdir()):
            study = StudyDir(folder.name) if folder.name.startswith("study-") else None
            if study and study.exists() and study.read().get("state") == "running" and folder.name not in self._threads:
                key = study.read().get("owner")
                self._launch(folder.name, OwnerKey(key) if key else None)
                resumed.append(folder.name)
        return resumed

    def stop(self, study_id: str) -> None:
        """Start no more trials; the running one stops and is scored as it stands."""
        event = self._stop.get(study_id)
        if event:
            event.set()
        elif StudyDir(study_id).read().get("state") == "running":
            StudyDir(study_id).update(state="stopped")

    def wait(self, study_id: str, timeout: float | None = None) -> dict:
        thread = self._threads.get(study_id)
        if thread:
            thread.join(timeout)
        return StudyDir(study_id).read()

    def _launch(self, study_id: str, owner: str | None) -> None:
        self._stop[study_id] = threading.Event()
        thread = threading.Thread(target=self._search, args=(study_id, owner), name=f"study-{study_id}", daemon=True)
        self._threads[study_id] = thread
        thread.start()

    # the search ---------------------------------------------------------------------------------------------
    def _search(self, study_id: str, owner: str | None) -> None:
        folder = StudyDir(study_id)
        try:
            info = folder.read()
            seed = RunConfig.from_dict(info["config"]).train.seed  # the sampler is seeded by the runs' seed
            study = optuna_study(folder.path, info["direction"], seed, load=True)
            while not self._stop[study_id].is_set():
                left = self._left(study, info)
                if not left:
                    break
                trial, run_id = self._next(study, info, owner, left)
                if run_id:
                    self._follow(study, trial, run_id, info, study_id)
            self._finish(folder, study, "stopped" if self._stop[study_id].is_set() else "done")
        except Exception as exc:  # noqa: BLE001 - a failed study must never take the app down
            log.warning("study %s failed: %s", study_id, exc, exc_info=True)
            folder.update(state="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._threads.pop(study_id, None)

    def _left(self, study, info: dict) -> dict:
        """What the budget still allows ({"minutes", "steps"}; 0: no limit), or {} when it is spent."""
        import optuna

        budget, done = info["budget"], study.get_trials(deepcopy=False)
        finished = [t for t in done if t.state.is_finished()]
        running = [t for t in done if t.state == optuna.trial.TrialState.RUNNING]
        if len(finished) >= budget["trials"] and not running:
            return {}
        spent = [RunDir(t.user_attrs["run_id"]).status() for t in done if t.user_attrs.get("run_id")]
        minutes = budget["minutes"] - sum(s.get("elapsed", 0) for s in spent) / 60 if budget["minutes"] else 0
        steps = budget["steps"] - sum(s.get("step", 0) for s in spent) if budget["steps"] else 0
        if (budget["minutes"] and minutes <= 0.05 and not running) or (budget["steps"] and steps <= 0 and not running):
            return {}
        return {"minutes": max(minutes, 0.05) if budget["minutes"] else 0,
                "steps": max(steps, 1) if budget["steps"] else 0}

    def _next(self, study, info: dict, owner: str | None, left: dict):
        """The trial to follow and its run: one a killed app left running (its run resumed), else a new one."""
        import optuna

        for frozen in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            run_id = frozen.user_attrs.get("run_id")
            trial = optuna.trial.Trial(study, frozen._trial_id)
            if run_id and RunDir(run_id).exists():
                if self.jobs.snapshot(run_id).get("state") in ("interrupted", "stopped", "failed"):
                    self.jobs.resume(run_id, owner)
                return trial, run_id
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        trial = study.ask()
        params = study_space.suggest(trial, info["space"])
        cfg = RunConfig.from_dict(info["config"])
        cfg.method = params["method"]
        settings = study_space.settings(params, info["space"])
        for key, value in settings.items():
            cfg.set(key, value)
        cfg.name = f"{info['id']} #{trial.number + 1}"
        if left.get("minutes"):
            cfg.train.time_limit_min = min(cfg.train.time_limit_min or left["minutes"], left["minutes"])
        if left.get("steps"):
            cfg.train.step_limit = min(cfg.train.step_limit or left["steps"], left["steps"])
        trial.set_user_attr("settings", settings)
        run_id = self._submit(study, trial, cfg, owner, info["id"])
        if run_id:
            trial.set_user_attr("run_id", run_id)
        return trial, run_id

    def _submit(self, study, trial, cfg: RunConfig, owner: str | None, study_id: str) -> str:
        """Queue the trial's run; while the queue is full (or the owner's share of it), wait for room ("" when
        the study is stopped meanwhile)."""
        import optuna

        while True:
            try:
                return self.submit(cfg, owner)
            except Busy:
                if self._stop[study_id].wait(BUSY_RETRY_S):  # stopped while it waited: no run for it
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    return ""
            except Exception:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise

    def _follow(self, study, trial, run_id: str, info: dict, study_id: str) -> None:
        """Ask the run to evaluate at each rung of its clock, report what it measured to Optuna (at the rung's
        step), cancel it when it is clearly behind there, and tell Optuna its final value when it ends."""
        import optuna

        metric, run, stopping, asked = info["metric"], RunDir(run_id), False, None
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == trial.number)  # resumed: so far
        done, reached = set(frozen.user_attrs.get("measured", [])), max(frozen.intermediate_values, default=0)
        offset = reached / study_clock.UNIT  # its clock goes on from its last rung
        while True:
            snap = self.jobs.snapshot(run_id)
            now = offset + study_clock.clock(snap)
            evals = [m for m in snap.get("metrics", []) if metric in m and m.get("step", 0) > 0]
            for m in (m for m in evals if m["step"] not in done):
                rung, reached, asked = asked, max(asked or round(now * study_clock.UNIT), reached + 1), None
                done.add(m["step"])
                trial.set_user_attr("measured", sorted(done))
                trial.report(m[metric], reached)
                share = m["step"] / max(snap.get("total_steps") or m["step"], 1)
                trial.set_user_attr("shares", [*trial.user_attrs.get("shares", []), [round(share, 4), m[metric]]])
                if rung and self._behind(study, trial, rung, m[metric], info, snap, share) and \
                        snap.get("state") not in FINISHED:
                    self.jobs.cancel(run_id)
                    self.jobs.wait(run_id, 60)
                    run.write_status(note=f"pruned by {study_id}: its {metric} fell behind the other trials")
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    return
            if snap.get("state") in FINISHED or snap.get("state") == "interrupted":
                break
            rung = self._rung(info, snap, now - offset)
            due = study_clock.next_rung(rung, reached) if rung else None
            if due and asked is None and now * study_clock.UNIT >= due and self.jobs.measure(run_id):
                asked = due
            if self._stop[study_id].is_set() and not stopping:
                stopping = self.jobs.stop(run_id) or True
            time.sleep(POLL_S)
        if snap["state"] in ("completed", "stopped") and evals:
            trial.set_user_attr("ended", round(now * study_clock.UNIT))  # on its clock: see _behind
            study.tell(trial, evals[-1][metric])
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)

    @staticmethod
    def _rung(info: dict, snap: dict, trained: float) -> int | None:
        """The study's first rung (steps), fixed from the first trial it follows once that trial has trained a sixth of
        its steps."""
        if not info.get("first_rung"):
            found = study_clock.first_rung(snap, trained)
            if found:
                info["first_rung"] = found
                StudyDir(info["id"]).update(first_rung=found)
        return info.get("first_rung")

    @staticmethod
    def _behind(study, trial, rung: int, value: float, info: dict, snap: dict, share: float = 0.0) -> bool:
        """Keep the trial's value at `rung` (a user attribute) and say whether it is behind the trials measured
        there before it and those that had ended by then (study_clock.behind, with the metric's noise as the
        margin), and not ahead of them all at `share` of its schedule (study_clock.ahead_at_share). The first trial
        of each kind of method (study_space.kind) is never behind: it is how the study learns where that kind ends
        (study_space.opening)."""
        key, trials = rung_key(rung), [t for t in study.get_trials(deepcopy=False) if t.number != trial.number]
        others = [t.user_attrs[key] if key in t.user_attrs else t.value for t in trials
                  if key in t.user_attrs or t.user_attrs.get("ended", rung + 1) <= rung]
        # a trial that ended before this rung is there with what it ended at: it needed no more time for it
        trial.set_user_attr(key, value)
        if not any(study_space.same_kind(t.params, trial.params) for t in trials if t.number < trial.number):
            return False
        maximize = info["direction"] == "maximize"
        bar = max(others, default=value) if maximize else min(others, default=value)
        if not study_clock.behind(value, others, maximize, study_clock.margin(info["metric"], bar, snap.get("n_val"))):
            return False
        return not study_clock.ahead_at_share(value, share, [t.user_attrs.get("shares") for t in trials], maximize)

    def _finish(self, folder: StudyDir, study, state: str) -> None:
        import optuna

        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        best = study.best_trial if complete else None
        folder.update(state=state, finished=time.time(), best_run=best.user_attrs.get("run_id") if best else None,
                      best_value=best.value if best else None, best_number=best.number + 1 if best else None)
