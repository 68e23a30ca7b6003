"""When an auto-tune study compares its trials: at equal seconds of training, not at equal epochs.

A trial's clock is the seconds its run has trained, its evaluations included (what the study pays for it), read from
the run's status (`trained`, written at each logged step, and `eta_at`, when it was written). The rungs: the time
the first trial took to train a sixth of its steps (the first trial is the config's own settings, what the person
would run anyway), then twice the one before (about 1/6, 1/3, 2/3, 4/3 of its time). At a rung the study asks the
run to evaluate (JobManager.measure) and a trial goes on only while it is in the best third of the trials measured
there (those that had ended before it count with their final values), or behind the last of that third by no more
than one standard error of the difference of two accuracies (asynchronous successive halving with time as the
resource, as Ray Tune's ASHA can; written here because Optuna's pruner has no margin for noise, and without one it
stopped every trial that was behind the first at a sixth of its time, on differences 500 validation rows cannot
tell). Rungs twice apart rather than three times: past its second rung a trial of the sentiment set ran to its end
(the third came after most trials had ended), and each one that went on there cost 40-60 s.

Why time: compared at equal epochs, a trial whose method or batch costs more per epoch trained far longer before its
first comparison (DoRA at batch 8: 60 s to half an epoch of the sentiment set, where LoRA at 16 takes 9 s) and, ahead
there because it had taken more steps, went on for minutes. At equal times a dear trial must be ahead for what it
cost. Optuna counts steps as integers: a step here is a tenth of a second.

But equal times are not equal places in two schedules: at 20 s a 4-epoch trial is a fifth of the way through its
schedule, at its peak learning rate, while a 2-epoch trial is halfway and annealing; the longer one is behind then
and ends ahead (the sentiment set: 85-88 % against 89-90 % at 20 s, 91.8-93.2 % against 90.6 % at the end). So a
trial behind at a rung still goes on when, at the same share of its schedule, it is ahead of every trial measured
around that share (`ahead_at_share`): stopped only when it is behind at equal time and at equal share.
"""

from __future__ import annotations

import math
import time

UNIT = 10
"""Optuna's steps per second of a trial's clock."""
SHARE = 6
"""The first rung: the time the first trial took to train this share of its steps."""
FACTOR = 2
"""Each rung twice the one before."""
KEEP = 3
"""The best third of the trials measured at a rung goes on."""
Z = 1.0
"""A trial is stopped when it is behind by more than this many standard errors of the difference: clearly behind."""
LIVE = ("running", "stopping")


def clock(snap: dict) -> float:
    """Seconds the run in `snap` (a job snapshot) has trained in its current process; 0 before its first logged
    step (what a status left by an earlier process says is not counted)."""
    trained, at, started = snap.get("trained"), snap.get("eta_at"), snap.get("started") or 0
    if trained is None or not at or at < started:
        return 0.0
    return trained + max(0.0, time.time() - at) if snap.get("state") in LIVE else trained


def first_rung(snap: dict, trained: float) -> int | None:
    """The first rung, in steps, from the first trial's snapshot and clock: the seconds it took to train a sixth of
    its steps, measured there (the seconds at its last status, scaled to exactly a sixth); None before then. Not a
    sixth of an expected time: an ETA extrapolates the pace of the first steps, which warm everything up and move
    with the machine's pace (the sentiment set: one study's first trial ran its first twelve steps at 0.34 s each
    and the rest at 0.23, the next study's at 0.15 and 0.2; ETAs taken at a twentieth of the steps set first rungs
    of 14.1 s and 6.4 s, and one study took 605 s, the other 238 s)."""
    step, total = snap.get("step") or 0, snap.get("total_steps") or 0
    if not trained or snap.get("state") in LIVE and (not step or step * SHARE < total):
        return None
    seconds = snap.get("trained") or trained
    return max(1, round(UNIT * seconds * (total / (SHARE * step) if step and total else 1 / SHARE)))


def next_rung(first: int, reached: int) -> int:
    """The first rung past step `reached`."""
    rung = first
    while rung <= reached:
        rung *= FACTOR
    return rung


def margin(metric: str, bar: float, n_val: int) -> float:
    """How far behind the bar a trial may be and still go on: the validation metric's own noise, Z standard errors of
    the difference of two independent accuracies on `n_val` rows (500 rows at 89 %: 2 points), so that no trial is
    stopped on a difference its validation rows cannot tell; a loss: none. Two trials are measured on the same rows,
    so their difference's own error is smaller: on the sentiment set two trained runs' answers differed on 21-78 of
    500 rows, a standard error of 0.9-1.8 points, and one unpaired standard error was 1.2-2 of those
    (benchmarks/paired_noise.py). Two unpaired ones let a trial 3 points behind the best at a rung run on to its end."""
    if "accuracy" not in metric or not n_val:
        return 0.0
    p = min(max(bar, 0.0), 1.0)
    return Z * math.sqrt(2 * p * (1 - p) / n_val)


def behind(value: float, others: list[float], maximize: bool, noise: float = 0.0) -> bool:
    """Whether a trial measured `value` at a rung where the trials before it measured `others` is out of the best
    third there (the first trial at a rung goes on), by more than `noise`: the last value in the best third is as
    noisy as any. (With a margin of two standard errors and rungs three times apart, a margin kept from six trials on
    let trials 2-4 points behind the third best run to their end; with one and rungs twice apart, dropping it there
    stopped a trial 1.8 points behind the second best of six at its first rung, 9 s in, on seed 1.)"""
    if not others:
        return False
    ranked = sorted([*others, value], reverse=maximize)
    kept = max(len(ranked) // KEEP, 1)
    bar = ranked[kept - 1]  # the last value in the best third
    return value < bar - noise if maximize else value > bar + noise


def at_share(curve: list, share: float) -> float | None:
    """A trial's metric at `share` of its schedule, interpolated between its two measurements around it (`curve`:
    [share, value] pairs in order); None where it measured nothing on both sides (before its first rung, after its
    last: what it would have measured there is not known)."""
    for (s0, v0), (s1, v1) in zip(curve, curve[1:]):
        if s0 <= share <= s1:
            return v1 if s1 == s0 else v0 + (v1 - v0) * (share - s0) / (s1 - s0)
    return curve[0][1] if len(curve) == 1 and math.isclose(curve[0][0], share) else None


def ahead_at_share(value: float, share: float, curves: list[list], maximize: bool) -> bool:
    """Whether a trial that measured `value` at `share` of its schedule is ahead of every other trial there (`curves`,
    theirs), at least one of which measured on both sides of that share."""
    there = [v for v in (at_share(c, share) for c in curves if c) if v is not None]
    return bool(there) and (value > max(there) if maximize else value < min(there))
