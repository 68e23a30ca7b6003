"""What an auto-tune study searches over, and a trial's parameters as a run's settings.

The space is fixed when the study is made (kept in its study.json, so a resumed study searches the same one):
the method (LoRA and DoRA; full fine-tuning where its estimated memory fits this machine), a learning rate as a
factor around the method's own default (ftlab.train.defaults: full training and adapters differ by 10x, so one
range for both would waste half the trials) scaled with the trial's batch (by the square root of its ratio to the
defaults' batch, the scaling that suits Adam: a trial at half the batch takes smaller steps instead of diverging, one
at twice the batch larger ones), epochs, LoRA rank, batch size and warmup. Optuna's samplers take the parameters
by name; `settings` turns them into the RunConfig settings a trial runs with.
"""

from __future__ import annotations

import dataclasses
import math

from ftlab.config import RunConfig
from ftlab.methods import registry
from ftlab.train import defaults

SEARCHED = ("lora", "dora", "full")
"""Methods a study tries (with the person's own, when it is another)."""
RANKED = ("lora", "dora", "qlora")
"""Methods with a LoRA rank to search."""
EPOCHS_UP = 1.5
"""The most epochs a trial takes, as a multiple of those chosen for the data (3 at least). With twice as many, the
sentiment set's studies ran 4-epoch trials of 80-110 s that ended at 91.8-93.2 %; a 3-epoch one ended at 92.4 % in
66 s, and the grid's best ran 3 epochs."""
AVERAGE = 0.9
"""The decay of the weight average a trial's rung evaluations measure (about its last ten steps; ftlab.train.averaging):
one step's accuracy swings by points at a high learning rate, the average's by about one."""


def space(cfg: RunConfig, facts: defaults.Facts, fits_full: bool) -> dict:
    """The study's search space for a base config and its data's facts."""
    methods = [m for m in SEARCHED if m != "full" or fits_full]
    if cfg.method not in methods:
        methods.insert(0, cfg.method)
    chosen = {c.key: c.value for c in defaults.choose(facts)}
    batch = int(chosen["batch_size"])
    epochs = int(math.ceil(chosen["epochs"]))
    low = max(1, min(epochs, round(cfg.train.epochs)))  # the epochs chosen for the data are about what it needs to
    # learn: fewer rarely do; half as many again at most (EPOCHS_UP), since a longer schedule goes on at a rung where
    # it leads at its share of the schedule (study_clock), and what goes on is paid in full
    high = max(3, math.ceil(EPOCHS_UP * epochs))
    base_lr = {m: defaults.learning_rate(defaults.Facts(facts.task, m, facts.rows, params=facts.params)).value
               for m in methods}
    return {"methods": methods, "base_lr": base_lr, "lr_scale": [0.2, 5.0], "epochs": [low, high],
            "batch_size": sorted({max(1, batch // 2), batch, batch * 2}), "lora_r": [4, 8, 16, 32],
            "warmup_ratio": [0.0, 0.05, 0.1], "rows": facts.rows, "base_batch": batch,
            **({"head_init": "probe"} if cfg.task == "classify" else {})}


def suggest(trial, sp: dict) -> dict:
    """A trial's parameters, asked of Optuna's sampler (a rank only for the methods that have one)."""
    params = {"method": trial.suggest_categorical("method", sp["methods"]),
              "lr_scale": trial.suggest_float("lr_scale", *sp["lr_scale"], log=True),
              "epochs": trial.suggest_int("epochs", *sp["epochs"]),
              "batch_size": trial.suggest_categorical("batch_size", sp["batch_size"]),
              "warmup_ratio": trial.suggest_categorical("warmup_ratio", sp["warmup_ratio"])}
    if params["method"] in RANKED:
        params["lora_r"] = trial.suggest_categorical("lora_r", sp["lora_r"])
    return params


def settings(params: dict, sp: dict) -> dict:
    """The RunConfig settings of a trial: its parameters, no evaluations of its own before the last (the study asks
    for one at each rung of its clock, see study_clock) and those measuring the average of its last steps' weights
    (AVERAGE), a checkpoint every half epoch (a killed app resumes it), no early stopping of its own (the pruner ends
    a trial that falls behind), no replies generated at its evaluations (the study reads its loss or accuracy only;
    a chat model's replies on a CPU take longer than the loss), and a classifier's head started as a linear probe (a
    random head sits at chance until the body has moved, so an early rung would compare chance with chance).
    Everything else stays as the study's config has it (max length, optimizer, data)."""
    method, batch = params["method"], int(params["batch_size"])
    per_epoch = max(1, math.ceil(sp["rows"] / batch))
    lr = base_lr(sp, method, batch) * params["lr_scale"]
    out = {"learning_rate": float(f"{lr:.3g}"), "epochs": float(params["epochs"]),
           "batch_size": batch, "warmup_ratio": params["warmup_ratio"], "eval_every": per_epoch * int(params["epochs"]),
           "save_every": max(1, per_epoch // 2), "early_stopping_patience": 0, "eval.generate_rows": 0,
           "eval_average": AVERAGE}
    if sp.get("head_init"):
        out["classify.head_init"] = sp["head_init"]
    if "lora_r" in params:
        out.update({"lora.r": params["lora_r"], "lora.alpha": 2 * params["lora_r"]})
    return out


def base_lr(sp: dict, method: str, batch: int) -> float:
    """The learning rate a trial's factor multiplies: the method's default, scaled by the square root of the batch's
    ratio to the defaults' batch (a study made before the scaling has no `base_batch`: unscaled)."""
    return sp["base_lr"][method] * math.sqrt(batch / sp.get("base_batch", batch))


def fits_full(cfg: RunConfig, cap_gb: float | None = None) -> bool:
    """Whether full fine-tuning of the model is estimated to fit this machine's free memory (and `cap_gb`)."""
    from ftlab.train import memory, plan

    need = plan.estimate(dataclasses.replace(cfg, method="full"))["memory_gb"]
    return need <= min(cap_gb or float("inf"), 0.8 * memory.free_mb() / 1024)


def nearest(value: float, options: list):
    """The option closest to `value`."""
    return min(options, key=lambda o: abs(o - value))


def first(cfg: RunConfig, sp: dict) -> dict:
    """The parameters nearest the config's own settings (the Model tab's, the defaults chosen for the data): the
    study's first trial, so the search starts from a run known to be sound, the pruner has a fair bar to hold later
    trials to from their first evaluation, and the best trial is never worse than the settings it began from."""
    method = cfg.method if cfg.method in sp["methods"] else sp["methods"][0]
    low, high = sp["lr_scale"]
    batch = nearest(cfg.train.batch_size, sp["batch_size"])
    params = {"method": method, "lr_scale": min(high, max(low, cfg.train.learning_rate / base_lr(sp, method, batch))),
              "epochs": min(sp["epochs"][1], max(sp["epochs"][0], round(cfg.train.epochs))), "batch_size": batch,
              "warmup_ratio": nearest(cfg.train.warmup_ratio, sp["warmup_ratio"])}
    if method in RANKED:
        params["lora_r"] = nearest(cfg.lora.r, sp["lora_r"])
    return params


def opening(cfg: RunConfig, sp: dict) -> list[dict]:
    """The study's first trials: the config's own settings (`first`), then the other kind of method (`kind`: full
    fine-tuning after an adapter, LoRA after full fine-tuning) at its own default learning rate for the most epochs
    searched (the same batch and warmup). The first trial of a kind is never stopped at a rung
    (study.Studies._behind): compared at equal times, the kind that starts slower loses there whatever it ends at,
    and a sampler that never sees it end learns nothing of it. Full fine-tuning of the sentiment set was at 64-75 %
    at the first rung where LoRA was at 81-84 %, and it was the best of the hand-run grid on three seeds at 3 epochs
    (at 2, a study's trial reached 89.6 % on seed 1 against 91.2 %); the studies that stopped it there ended 0.1-2
    points short of the grid's best on two seeds of three. (The studies opened before with the config's settings at
    a learning rate √5 up and down instead: on seed 2 the step up ran to its end, 32-39 s, and was never the best.)"""
    base = first(cfg, sp)
    found = [base]
    other = next((m for m in sp["methods"] if kind(m) != kind(base["method"])), None)
    if other:
        rank = {"lora_r": nearest(cfg.lora.r, sp["lora_r"])} if other in RANKED else {}
        found.append({"method": other, "lr_scale": 1.0, "epochs": sp["epochs"][1], "batch_size": base["batch_size"],
                      "warmup_ratio": base["warmup_ratio"], **rank})
    return found


def kind(method: str) -> str:
    """How a method learns: "adapter" (trains a few weights beside the frozen base) or "weights" (moves the base's
    own, slower to start at the learning rates that suit it)."""
    return "adapter" if registry.get(method).adapter else "weights"


def same_kind(params: dict, other: dict) -> bool:
    """Whether two trials' parameters train the same kind of method (two without a method count as one kind)."""
    def of(p: dict) -> str | None:
        return kind(p["method"]) if "method" in p else None

    return of(params) == of(other)
