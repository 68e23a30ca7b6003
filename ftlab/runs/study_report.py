"""What a study shows: its trials (run, state, settings, value, minutes, the metric at each rung of its clock), which
parameters mattered (Optuna's PED-ANOVA importance, which needs no extra package: over the trials that ran to their
end, or while fewer than three did, over every trial's metric at the first rung), and the best trial."""

from __future__ import annotations

import warnings
from pathlib import Path

from ftlab.runs.run_dir import RunDir
from ftlab.runs import study_clock
from ftlab.runs.study import StudyDir, optuna_study, rung_key


def snapshot(study_id: str) -> dict:
    """A study's budget, state, trials, importance and best run, in plain types."""
    import optuna

    folder = StudyDir(study_id)
    info = folder.read()
    if not info:
        raise ValueError(f"no study {study_id}")
    study = optuna_study(folder.path, info["direction"], load=True)
    waiting = optuna.trial.TrialState.WAITING  # the opening's next trials; once the study ends, never started: gone
    trials = [trial_row(t) for t in study.get_trials(deepcopy=False)
              if t.state != waiting or info.get("state") == "running"]
    cfg = info.pop("config")  # its paths stay on the server: what it tunes, by name
    base = {"task": cfg["task"], "model": cfg["model"], "method": cfg["method"],
            "data": Path(cfg["data"]["path"]).name}
    return {**info, "base": base, "trials": trials, "importance": importance(study, info.get("first_rung"))}


def trial_row(t) -> dict:
    run_id = t.user_attrs.get("run_id")
    status = RunDir(run_id).status() if run_id and RunDir(run_id).exists() else {}
    curve = [[step / study_clock.UNIT, value] for step, value in sorted(t.intermediate_values.items())]
    state = t.state.name.lower()
    if state == "complete" and status.get("state") == "stopped":  # ended by the budget or Stop, scored as it stood
        state = "stopped"
    return {"number": t.number + 1, "run_id": run_id, "state": state, "value": t.value,
            "last": curve[-1][1] if curve else None, "params": dict(t.params), "settings": t.user_attrs.get("settings", {}),
            "minutes": round(status.get("elapsed", 0) / 60, 2), "steps": status.get("step", 0), "curve": curve}


def importance(study, first_rung: int | None = None) -> dict:
    """Which parameters mattered: {"at": "end", "of": {parameter: its share of the metric's variation}} over the
    trials that ran to their end, or, while fewer than three did (most trials of a study are stopped early), "at":
    "first_rung" over every trial's metric at the study's first rung, where they were all measured after the same
    seconds of training; {} before either has three trials."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) >= 3:
        found = ped_anova(study)
        return {"at": "end", "of": found} if found else {}
    key = rung_key(first_rung)
    measured = [t for t in study.get_trials(deepcopy=False) if key in t.user_attrs and t.params]
    if len(measured) < 3:
        return {}
    there = optuna.create_study(direction=study.direction)  # in memory: each trial as it stood at the first rung
    there.add_trials([optuna.trial.create_trial(params=t.params, distributions=t.distributions,
                                                value=t.user_attrs[key]) for t in measured])
    found = ped_anova(there)
    return {"at": "first_rung", "of": found} if found else {}


def ped_anova(study) -> dict:
    """Optuna's PED-ANOVA importance of each parameter over the study's complete trials ({} where it cannot tell)."""
    from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}
    return {name: round(float(value), 3) for name, value in found.items()}
