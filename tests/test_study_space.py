"""What an auto-tune study searches: a trial's learning rate is its factor times the method's default, scaled with
the batch it trains at, and the study's first trial is the config's own settings; when it compares its trials: at
rungs of their training time."""

from __future__ import annotations

import math
import time

import pytest

from ftlab.config import RunConfig
from ftlab.runs import study_clock, study_space
from ftlab.train import defaults


def made(batch: int = 16) -> tuple[RunConfig, dict]:
    facts = defaults.Facts("classify", "lora", rows=2000, val_rows=500, params=22_000_000)
    cfg = RunConfig(task="classify", model="m", method="lora")
    for choice in defaults.choose(facts):
        cfg.set(choice.key, choice.value)
    cfg.train.batch_size = batch
    return cfg, study_space.space(cfg, facts, fits_full=True)


def params(sp: dict, **over) -> dict:
    """A trial's parameters as study_space.suggest gives them (a rank only for a method that has one)."""
    found = {"method": "lora", "lr_scale": 1.0, "epochs": 2, "batch_size": 16, "warmup_ratio": 0.0, **over}
    return {**found, "lora_r": 8} if found["method"] in ("lora", "dora") else found


def test_a_trial_at_another_batch_takes_a_learning_rate_scaled_by_the_square_root_of_the_ratio():
    cfg, sp = made()
    assert sp["batch_size"] == [8, 16, 32] and sp["base_batch"] == 16
    lr = {b: study_space.settings(params(sp, batch_size=b), sp)["learning_rate"] for b in sp["batch_size"]}
    assert lr[16] == pytest.approx(sp["base_lr"]["lora"], rel=1e-3)
    assert lr[32] == pytest.approx(lr[16] * math.sqrt(2), rel=1e-2)
    assert lr[8] == pytest.approx(lr[16] / math.sqrt(2), rel=1e-2)
    full = study_space.settings(params(sp, method="full", lr_scale=2.0), sp)
    assert full["learning_rate"] == pytest.approx(2 * sp["base_lr"]["full"], rel=1e-2) and "lora.r" not in full


def test_a_study_searches_epochs_from_those_chosen_for_the_data_to_half_as_many_again():
    cfg, sp = made()
    assert cfg.train.epochs == 2 and sp["epochs"] == [2, 3]  # 2,000 rows: 2 epochs chosen
    small = defaults.Facts("classify", "lora", rows=64, val_rows=16, params=22_000_000)
    chosen = {c.key: c.value for c in defaults.choose(small)}["epochs"]
    cfg.train.epochs = chosen
    assert study_space.space(cfg, small, fits_full=True)["epochs"] == [chosen, math.ceil(1.5 * chosen)]


def test_the_first_trial_is_the_configs_own_settings_whatever_its_batch():
    for batch in (8, 16, 32):
        cfg, sp = made()
        cfg.train.batch_size, cfg.train.learning_rate = batch, 7e-4
        found = study_space.settings(study_space.first(cfg, sp), sp)
        assert found["batch_size"] == batch and found["learning_rate"] == pytest.approx(7e-4, rel=1e-2)
        assert found["epochs"] == cfg.train.epochs and found["lora.r"] == cfg.lora.r


def test_the_study_opens_with_the_configs_own_settings_then_the_other_kind_of_method_at_its_default():
    cfg, sp = made()
    cfg.train.learning_rate = 7e-4
    own, other = study_space.opening(cfg, sp)
    assert own == study_space.first(cfg, sp) and other["method"] == "full"
    found = study_space.settings(other, sp)
    assert found["learning_rate"] == pytest.approx(sp["base_lr"]["full"], rel=1e-2) and "lora.r" not in found
    assert found["epochs"] == sp["epochs"][1] == 3  # it starts slower: the longest schedule searched
    assert (found["batch_size"], found["warmup_ratio"]) == (cfg.train.batch_size, cfg.train.warmup_ratio)
    cfg.method, cfg.train.learning_rate = "full", sp["base_lr"]["full"]  # full fine-tuning's own: then LoRA
    own, other = study_space.opening(cfg, sp)
    assert own["method"] == "full" and other["method"] == "lora" and other["lora_r"] == cfg.lora.r
    assert study_space.settings(other, sp)["learning_rate"] == pytest.approx(sp["base_lr"]["lora"], rel=1e-2)
    cfg.method = "dora"
    no_room = study_space.space(cfg, defaults.Facts("classify", "dora", rows=2000, params=22_000_000), fits_full=False)
    assert [p["method"] for p in study_space.opening(cfg, no_room)] == ["dora"]  # LoRA is DoRA's kind: nothing else
    assert [study_space.kind(m) for m in ("lora", "dora", "ia3", "prompt", "full", "freeze")] == \
        ["adapter"] * 4 + ["weights"] * 2


def test_a_study_made_before_the_batch_scaling_keeps_its_unscaled_learning_rates():
    _, sp = made()
    del sp["base_batch"]  # as a study.json written before it has it
    assert study_space.settings(params(sp, batch_size=32), sp)["learning_rate"] == pytest.approx(
        sp["base_lr"]["lora"], rel=1e-3)


def test_a_trial_evaluates_only_when_the_study_asks_and_a_classifier_starts_from_a_probe():
    cfg, sp = made()
    found = study_space.settings(params(sp, epochs=3, batch_size=32), sp)
    per_epoch = math.ceil(2000 / 32)
    assert found["eval_every"] >= 3 * per_epoch  # none of its own before the last: the study asks at its rungs
    assert found["save_every"] == per_epoch // 2  # a killed app still resumes it from half an epoch at most back
    assert found["classify.head_init"] == "probe" and found["early_stopping_patience"] == 0
    chat = RunConfig(task="chat", model="m", method="lora")
    chat_space = study_space.space(chat, defaults.Facts("chat", "lora", rows=200), fits_full=True)
    assert "classify.head_init" not in study_space.settings(params(chat_space, batch_size=4), chat_space)


def test_a_trials_clock_counts_the_seconds_it_has_trained_in_its_process():
    now = time.time()
    assert study_clock.clock({"state": "running", "started": now - 30}) == 0  # not training yet
    live = {"state": "running", "started": now - 30, "trained": 12.0, "eta_at": now - 2}
    assert 13.9 < study_clock.clock(live) < 14.5  # goes on between the run's status writes (its evaluations too)
    assert study_clock.clock({**live, "state": "completed"}) == 12.0
    left_by_a_killed_process = {**live, "started": now - 1}  # resumed: the status still says the old process's
    assert study_clock.clock(left_by_a_killed_process) == 0


def test_rungs_start_at_the_time_the_first_trial_took_for_a_sixth_of_its_steps_and_double():
    slow_start = {"state": "running", "step": 16, "total_steps": 100, "trained": 9.0, "eta": 200.0}
    assert study_clock.first_rung(slow_start, 9.2) is None  # 16 of 100 steps: not there yet, whatever its ETA says
    assert study_clock.first_rung({"state": "running", "eta": 57.0}, 3.0) is None  # no step logged yet
    there = {**slow_start, "step": 20, "trained": 12.0}  # past a sixth: its seconds scaled to 100/6 steps, 10 s
    assert study_clock.first_rung(there, 12.3) == 100
    assert study_clock.first_rung({"state": "completed", "step": 12, "total_steps": 12, "trained": 6.0}, 6.0) == 10
    assert study_clock.first_rung({"state": "completed"}, 1.2) == 2  # it ended before it logged a step
    assert [study_clock.next_rung(100, reached) for reached in (0, 99, 100, 150, 300, 900)] == \
        [100, 100, 200, 200, 400, 1600]


def test_a_trial_goes_on_while_in_the_best_third_at_a_rung_or_within_the_metrics_noise_of_its_last():
    noise = study_clock.margin("eval_accuracy", 0.89, 500)
    assert noise == pytest.approx(math.sqrt(2 * 0.89 * 0.11 / 500)) and 0.019 < noise < 0.02  # one SE: 2 points
    assert study_clock.margin("eval_loss", 1.3, 500) == 0  # a loss: no margin
    assert not study_clock.behind(0.5, [], maximize=True)  # the first trial at a rung goes on
    assert not study_clock.behind(0.875, [0.89], True, noise) and study_clock.behind(0.865, [0.89], True, noise)
    assert study_clock.behind(0.85, [0.9, 0.8, 0.7], True, noise)  # four measured: only the best goes on
    five = [0.9, 0.88, 0.8, 0.75]  # five measured: the best third is the best alone, and a trial near it goes on
    assert not study_clock.behind(0.885, five, True, noise) and study_clock.behind(0.875, five, True, noise)
    six = [0.9, 0.88, 0.8, 0.75, 0.7]  # six measured: the best two go on, the second best the bar, the same margin
    assert not study_clock.behind(0.865, six, True, noise) and study_clock.behind(0.855, six, True, noise)
    assert study_clock.behind(0.865, six, True)  # without the margin it would be stopped
    assert study_clock.behind(1.05, [1.0], maximize=False) and not study_clock.behind(0.99, [1.0], maximize=False)


def test_a_trial_that_ended_before_a_rung_is_there_with_its_final_value():
    import optuna

    from ftlab.runs.study import Studies

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    ended = study.ask()
    ended.set_user_attr("ended", 400)  # 40 s of training, 90 %
    study.tell(ended, 0.90)
    info, snap = {"direction": "maximize", "metric": "eval_accuracy"}, {"n_val": 500}
    assert not Studies._behind(study, study.ask(), 300, 0.80, info, snap)  # it had not ended by 30 s: first there
    assert Studies._behind(study, study.ask(), 900, 0.80, info, snap)  # by 90 s it had: 10 points behind it
    assert not Studies._behind(study, study.ask(), 900, 0.885, info, snap)  # within the noise of it (2 points)


def test_a_trial_behind_at_equal_time_goes_on_when_it_leads_at_the_same_share_of_its_schedule():
    """The sentiment set's case: at 20 s a 4-epoch trial (a fifth of its schedule, at its peak learning rate) measured
    85.8 % against a 2-epoch trial's 90.6 % (halfway, annealing), and ended at 91.8 % against its 90.6 %."""
    import optuna

    from ftlab.runs.study import Studies

    short = [[0.2, 0.836], [0.55, 0.906], [1.0, 0.906]]  # the 2-epoch trial: its shares of its schedule, accuracies
    assert study_clock.at_share(short, 0.2) == 0.836 and study_clock.at_share(short, 0.25) == pytest.approx(0.846)
    assert study_clock.at_share(short, 0.1) is None  # before its first rung: not known
    assert study_clock.at_share([[0.2, 0.8]], 0.5) is None  # after its last (it was stopped there): not known
    assert study_clock.ahead_at_share(0.858, 0.25, [short, None], maximize=True)
    assert not study_clock.ahead_at_share(0.84, 0.25, [short], maximize=True)
    assert not study_clock.ahead_at_share(0.9, 0.1, [short], maximize=True)  # nobody measured there: no lead
    assert study_clock.ahead_at_share(1.1, 0.25, [[[0.2, 1.3], [0.3, 1.2]]], maximize=False)  # a loss: lower leads

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    ended = study.ask()
    for key, value in {"ended": 380, "rung_200": 0.90, "shares": short}.items():
        ended.set_user_attr(key, value)
    study.tell(ended, 0.906)
    info, snap = {"direction": "maximize", "metric": "eval_accuracy"}, {"n_val": 500}
    assert Studies._behind(study, study.ask(), 200, 0.84, info, snap, share=0.25)  # behind at both: stopped
    assert not Studies._behind(study, study.ask(), 200, 0.858, info, snap, share=0.25)  # ahead at its share: goes on
    assert Studies._behind(study, study.ask(), 200, 0.858, info, snap, share=0.55)  # at the same share: behind


def test_the_first_trial_of_each_kind_of_method_is_never_stopped_at_a_rung():
    """Full fine-tuning of the sentiment set was 64-75 % at the first rung where LoRA was 81-84 %, and ended the best
    of the grid: the study's first full fine-tuning goes on to its end, to learn where that kind ends."""
    import optuna

    from ftlab.runs.study import Studies

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    info, snap = {"direction": "maximize", "metric": "eval_accuracy"}, {"n_val": 500}

    def trial(method: str):
        study.enqueue_trial({"method": method})
        asked = study.ask()
        asked.suggest_categorical("method", ["lora", "dora", "full"])
        return asked

    for value in (0.84, 0.83, 0.81):  # LoRA trials measured at the rung (1/10 s of training)
        lora = trial("lora")
        lora.set_user_attr("rung_100", value)
        study.tell(lora, value + 0.06)
    first_full = trial("full")
    for rung, value in ((100, 0.70), (200, 0.75)):
        assert not Studies._behind(study, first_full, rung, value, info, snap)  # the first of its kind: goes on
    assert first_full.user_attrs["rung_100"] == 0.70  # and is measured there for the trials after it
    assert Studies._behind(study, trial("dora"), 100, 0.70, info, snap)  # LoRA's kind: 14 points behind it
    assert Studies._behind(study, trial("full"), 100, 0.78, info, snap)  # a second full one is held to them all
    assert not Studies._behind(study, trial("full"), 100, 0.83, info, snap)
