"""What a study's page shows of which settings mattered: Optuna's PED-ANOVA importance over the trials that ran to
their end, or, while most trials were stopped early, over every trial's metric at the first rung."""

from __future__ import annotations

import math

import pytest

from ftlab.runs import study_report

SPACE = {"method": ["lora", "dora", "full"], "batch_size": [8, 16, 32]}


@pytest.fixture
def study():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=3))


def trial(study, value: float, complete: bool, lr_scale: float, method: str, batch: int):
    """A trial whose metric at the first rung (10 s) is `value`; it then runs to its end or is stopped there."""
    import optuna

    study.enqueue_trial({"lr_scale": lr_scale, "method": method, "batch_size": batch})
    asked = study.ask()
    asked.suggest_float("lr_scale", 0.2, 5.0, log=True)
    asked.suggest_categorical("method", SPACE["method"])
    asked.suggest_categorical("batch_size", SPACE["batch_size"])
    asked.set_user_attr("rung_100", value)
    if complete:
        study.tell(asked, value + 0.05)
    else:
        study.tell(asked, state=optuna.trial.TrialState.PRUNED)


def by_learning_rate(study, n: int, complete: int) -> None:
    """n trials whose metric falls with the distance of their learning rate from the method's default (method and
    batch vary and do not matter); the first `complete` ran to their end."""
    for i in range(n):
        lr_scale = 0.2 * 25 ** (i / (n - 1))
        value = 0.9 - 0.1 * abs(math.log(lr_scale))
        trial(study, value, i < complete, lr_scale, SPACE["method"][i % 3], SPACE["batch_size"][(i * 2) % 3])


def test_while_most_trials_are_stopped_early_importance_is_measured_at_the_first_rung(study):
    by_learning_rate(study, 12, complete=2)
    found = study_report.importance(study, first_rung=100)
    assert found["at"] == "first_rung"
    assert set(found["of"]) == {"lr_scale", "method", "batch_size"}
    assert max(found["of"], key=found["of"].get) == "lr_scale"
    assert study_report.importance(study, first_rung=None) == {}  # no rung known yet: nothing to compare


def test_once_three_trials_ran_to_their_end_importance_is_measured_at_their_ends(study):
    by_learning_rate(study, 12, complete=2)
    trial(study, 0.5, True, 5.0, "full", 32)  # a third trial ends
    found = study_report.importance(study, first_rung=100)
    assert found["at"] == "end" and set(found["of"]) == {"lr_scale", "method", "batch_size"}


def test_a_study_with_fewer_than_three_trials_measured_shows_no_importance(study):
    by_learning_rate(study, 2, complete=1)
    assert study_report.importance(study, first_rung=100) == {}


@pytest.mark.parametrize("run_state, shown", [("completed", "complete"), ("stopped", "stopped")])
def test_a_trial_ended_by_the_budget_or_stop_is_shown_stopped_not_complete(run_state, shown):
    """A trial cut short (the study's minutes ran out, or Stop) is scored as it stood, but its row says it stopped,
    as the Runs tab does."""
    import optuna

    from ftlab.config import RunConfig
    from ftlab.runs.run_dir import RunDir

    run = RunDir.create(RunConfig(task="classify", model="m", method="lora"))
    run.write_status(state=run_state, step=31, total_steps=104)
    trial = optuna.trial.create_trial(params={}, distributions={}, value=0.8, user_attrs={"run_id": run.id})
    row = study_report.trial_row(trial)
    assert row["state"] == shown and row["value"] == 0.8 and row["steps"] == 31
