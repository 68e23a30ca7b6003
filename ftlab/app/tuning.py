"""The Lab's settings advice and auto-tune: `suggest` (the settings a run on this data, model and method should
start with, and why: ftlab.train.defaults) and studies (ftlab.runs.study): an Optuna search whose trials are
normal runs of the caller's, held on a shared server to the budget of one run."""

from __future__ import annotations

from ftlab.runs import study_space
from ftlab.runs.study import StudyDir
from ftlab.train import defaults

MAX_TRIALS = 100


class Tuning:
    def suggest(self, task: str, data_path: str, model: str = "", method: str = "lora",
                options: dict | None = None) -> dict:
        """{"settings": {setting: value}, "why": [{"key", "text", "code", "fields"}], "facts": {...}}: what a run on
        this data, model and method starts with (see ftlab.train.defaults), each choice with its reason."""
        self.check_data_path(data_path)
        self.check_data_path((options or {}).get("val_path", ""))
        self.check_model(model)
        cfg = self.build_config(task, data_path, model, method, **(options or {}))
        found = defaults.facts(cfg)
        choices = defaults.choose(found)
        return {"settings": {c.key: c.value for c in choices},
                "why": [{"key": c.key, "text": str(c.why), "code": c.why.code, "fields": c.why.fields} for c in choices],
                "facts": {"rows": found.rows, "val_rows": found.val_rows, "params": found.params,
                          "tokens": found.tokens}}

    def tune(self, config: dict, trials: int = 12, minutes: float = 30.0) -> str:
        """Start an auto-tune study of a RunConfig dict: up to `trials` runs and `minutes` of training (0: no
        limit; a shared server holds the whole study to one run's minutes and steps), its first trial the config's
        own settings. Returns the study id."""
        cfg = self.checked(config)
        trials, minutes = int(trials), float(minutes or 0)
        if not 1 <= trials <= MAX_TRIALS or minutes < 0:
            raise ValueError(f"a study runs 1 to {MAX_TRIALS} trials for 0 (no limit) or more minutes")
        steps = 0
        if self.shared:
            minutes = min(minutes or self.limits["minutes"], self.limits["minutes"])
            steps = self.limits["steps"]
        sp = study_space.space(cfg, defaults.facts(cfg), study_space.fits_full(cfg, self.limits.get("memory_gb")))
        return self.studies.start(cfg, sp, trials, minutes, self.owner(), steps, enqueue=study_space.opening(cfg, sp))

    def studies_list(self) -> list[dict]:
        """The caller's studies, newest first: id, state, budget, best run."""
        from ftlab import paths

        found = []
        for folder in sorted(paths.studies_dir().glob("study-*"), reverse=True):
            info = StudyDir(folder.name).read()
            if info and self.visible_study(folder.name):
                found.append({k: info.get(k) for k in ("id", "state", "budget", "metric", "best_run", "best_value",
                                                       "created")})
        return found

    def visible_study(self, study_id: str) -> bool:
        from ftlab.app import owners

        study = StudyDir(study_id)
        if not study.exists():
            return False
        return not self.shared or owners.is_operator() or study.owned_by(owners.current())

    def study(self, study_id: str) -> dict:
        """A study's budget, state, trials (run, settings, metric at each evaluation), parameter importance and
        best run."""
        from ftlab.runs import study_report

        self.check_study(study_id)
        return study_report.snapshot(study_id)

    def stop_study(self, study_id: str) -> None:
        """Start no more trials; the running one stops (saved) and counts as it stands."""
        self.check_study(study_id)
        self.studies.stop(study_id)

    def check_study(self, study_id: str) -> None:
        try:
            if self.visible_study(study_id):
                return
        except ValueError:
            pass
        raise ValueError(f"no study {study_id}")
