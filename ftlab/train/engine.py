"""The training engine: `run(cfg, run_dir, stop)` trains one model and writes everything to its run directory.

Lifecycle: setup (data, tokenizer, model, method) -> train (checks `stop` after every optimizer step) ->
save (safetensors, atomically) -> cleanup in `finally`. It knows transformers and PEFT, not Gradio.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ftlab import data as data_mod
from ftlab import methods, modeling, tasks
from ftlab.eval import model_card
from ftlab.train import (averaging, batch_fit, checkpoints, early_stopping, failures, heap, memory, optim, parallel,
                         precision, recompute, run_setup)
from ftlab.train.pace import Pace
from ftlab.config import RunConfig
from ftlab.events import Event
from ftlab.eval.evaluator import Evaluator
from ftlab.train.run_setup import Setup, save, setup
from ftlab.runs.run_dir import ReadOnlyRun, RunDir

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    state: str  # completed | stopped | failed
    step: int
    error: str = ""


class Trainer:
    """One run's training loop; `run()` is the public entry point."""

    def __init__(self, cfg: RunConfig, run: RunDir, stop: threading.Event, on_event: Callable | None,
                 restored: checkpoints.Restored | None = None, cancel: threading.Event | None = None,
                 group: parallel.Group | None = None, measure: threading.Event | None = None):
        self.cfg, self.run, self.stop, self.on_event = cfg, run, stop, on_event or (lambda e: None)
        self.task = tasks.get(cfg.task)
        self.group = group or parallel.Group()
        self.forward = None
        """The model the training step calls: wrapped for gradient averaging in a data-parallel group."""
        self.restored, self.cancel = restored, cancel or threading.Event()
        self.measure = measure or threading.Event()
        """Set from outside (an auto-tune study comparing its trials at equal times): evaluate after this step."""
        self.total, self.per_epoch = 0, 1
        self.started = self.train_started = time.time()
        self.early = early_stopping.EarlyStopping(cfg.train.early_stopping_metric, cfg.train.early_stopping_patience,
                                   (restored.state.get("early") if restored else None))
        self.note = ""
        self.early_stopped = False
        self.eval_every, self.eval_seconds = 1, {}
        """Evaluations' period in steps, and step -> seconds each one took (the ETA counts those still to come)."""
        self.evaluator_due = False
        """Whether this run evaluates (it has validation rows)."""
        self.stats: dict[str, list] = {}
        """The task's stats of each batch since the last metrics record: name -> [(units, value)]."""
        self.evaluator: Evaluator | None = None
        self.steps_done = 0
        """Optimizer steps this process has taken (a first step out of memory can still try a smaller batch)."""
        self.average: averaging.Average | None = None
        """The average of the trained weights that mid-run evaluations measure (train.eval_average), if any."""

    def emit(self, record: dict) -> None:
        if self.group.main:
            self.run.append_metrics(record)
            self.on_event(record)

    def status(self, step: int, **fields) -> None:
        if not self.group.main:
            return
        now = time.time()
        eta, without_evals = self.eta(step, now)
        self.run.write_status(step=step, total_steps=self.total, elapsed=now - self.started, eta=eta,
                              eta_without_evals=without_evals, eta_at=now, trained=now - self.train_started,
                              **fields)

    def eta(self, step: int, now: float) -> tuple[float | None, bool]:
        """(seconds left, whether evaluations still due are left out of them). Seconds left: the steps to go at
        this run's pace of training steps, plus, once a mid-run evaluation has been timed, the evaluations still
        due (the final one too) and the final report at that time each. The base model's evaluation (step 0) says
        little of the later ones: it scores more rows and warms everything up (100 s against 10 s seen on a CPU)."""
        done = step - (self.restored.step if self.restored else 0)
        if done <= 0:
            return None, False
        mid = [sec for at, sec in self.eval_seconds.items() if at]
        training = (now - self.train_started - sum(mid)) / done * (self.total - step)
        if not mid:
            return training, bool(self.evaluator_due)
        per_eval = sum(mid) / len(mid)
        last_mid = int((self.total - self.eval_every / 2) // self.eval_every)  # see `loop`: none just before the end
        due = max(0, last_mid - step // self.eval_every) + 1 + 1  # the final one, the report
        return training + per_eval * due, False

    def optimizer(self, s: Setup):
        t = self.cfg.train
        groups = methods.get(self.cfg.method).param_groups(s.model, self.cfg)
        params = [p for g in groups for p in g["params"]]
        opt = optim.optimizer(t.optimizer, groups, t.learning_rate, t.weight_decay)
        return params, opt, optim.scheduler(t.scheduler, opt, int(self.total * t.warmup_ratio), self.total)

    def eval_and_log(self, s: Setup, step: int, train_loss: float | None = None, averaged: bool = False) -> dict:
        """Evaluate (step 0: the base model; `averaged`: the average of the trained weights, see averaging), log the
        metrics, and warn of overfitting."""
        if not s.val:
            return {}
        began = time.time()
        with self.average.applied() if averaged else nullcontext():
            result = self.evaluator.baseline() if step == 0 else self.evaluator.evaluate(step, self.early.best_step)
        self.eval_seconds[step] = time.time() - began
        warning = self.evaluator.overfitting(step, result.get("eval_loss"), train_loss)
        if self.group.main:
            mark = {"averaged": self.average.decay} if averaged else {}
            self.emit({"step": step, "time": time.time() - self.started, **result, **mark})
            self.run.write_status(**result, **({"warning": warning} if warning else {}))
            self.phase("training")
        return result

    def phase(self, name: str) -> None:
        """Say in the run's status what it is doing now (a code of ftlab.runs.run_dir.PHASES), and since when (the
        UI names it in its language and ticks the time)."""
        self.run.write_status(phase=name, phase_started=time.time(), phase_done=None, phase_total=None,
                              phase_step=None)

    def checkpoint(self, s: Setup, step: int, opt, sched) -> None:
        import torch

        if not self.group.main:
            return
        self.phase("checkpoint")
        state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": torch.get_rng_state(),
                 "early": self.early.state()}
        checkpoints.save(self.run.path, step, s.model, state, self.early.best_step if self.early.patience else None)
        self.phase("training")

    def restore(self, s: Setup, opt, sched) -> int:
        """Put the checkpoint's weights, optimizer, schedule and random state back; the step to go on from."""
        import torch

        if not self.restored or not self.restored.step:
            return 0
        checkpoints.load_weights(s.model, self.restored.weights)
        opt.load_state_dict(self.restored.state["optimizer"])
        sched.load_state_dict(self.restored.state["scheduler"])
        torch.set_rng_state(self.restored.state["rng"])
        return self.restored.step

    def step(self, s: Setup, batches, params, opt, sched) -> tuple[float, float, int, int, int]:
        """One optimizer step: (loss, grad norm, tokens seen, rows seen, positions computed incl. padding)."""
        import torch

        t, tokens, rows, positions, loss_sum = self.cfg.train, 0, 0, 0, torch.zeros(())
        micro = [run_setup.tensors(s, next(batches)) for _ in range(t.grad_accum)]
        units = [self.task.units(m) for m in micro]  # what each batch's loss is a mean over
        window = self.group.total(sum(units))  # what the whole step trains on, over every process
        for tensors, n in zip(micro, units):
            mask = tensors["attention_mask"]
            self.policy.prepare(*mask.shape, self.task.scored_tokens(tensors))  # recompute layers if it is long
            tokens, rows = tokens + int(mask.sum()), rows + len(mask)
            positions += self.task.positions(tensors)
            with s.autocast_context():  # a batch's mean, weighted by its share of the step (DDP averages: x world)
                loss, found = self.task.loss_stats(s.model, tensors, self.forward, self.cfg)
                loss = loss * (n * self.group.world / max(window, 1))
            for key, value in found.items():
                self.stats.setdefault(key, []).append((n, value))
            loss.backward()
            loss_sum += loss.detach().float().cpu()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, t.max_grad_norm)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        return float(loss_sum), float(grad_norm), tokens, rows, positions

    def log_step(self, step: int, loss: float, grad_norm: float, lr: float, pace: "Pace") -> None:
        """One metrics record: losses, LR, grad norm, the task's own stats of the steps since the last record
        (`train_reward_accuracy`...), throughput of the training steps alone, memory."""
        stats = {f"train_{k}": sum(n * v for n, v in vs if v == v) / max(sum(n for n, v in vs if v == v), 1)
                 for k, vs in self.stats.items()}
        self.stats = {}
        self.emit({"step": step, "epoch": round(step / self.per_epoch, 3), "time": time.time() - self.started,
                   "train_loss": loss, "lr": lr, "grad_norm": grad_norm, **stats, **pace.rates(), **memory.usage()})
        self.recent = (self.recent + [loss])[-10:]
        self.status(step, state="running", train_loss=sum(self.recent) / len(self.recent))

    def train(self, s: Setup) -> int:
        t = self.cfg.train
        params, opt, sched = self.optimizer(s)
        step = self.restore(s, opt, sched)
        self.forward = self.group.wrap(s.model)
        self.policy = recompute.Policy.for_run(s.model, t, s.device)
        batches = run_setup.batches(self.cfg, s, self.group)
        for _ in range(step * t.grad_accum):  # a resumed run goes on with the batches it had not seen
            next(batches)
        s.model.train()
        self.average = averaging.Average(params, t.eval_average) if t.eval_average else None
        if self.evaluator is None:  # a second try at a smaller batch keeps the base model's evaluation
            self.evaluator = Evaluator(self.cfg, self.run, s)
            self.evaluator_due = bool(s.val)
            if not step and s.val:
                self.eval_and_log(s, 0)
        with heap.for_training(self.policy.budget, s.device) or nullcontext():
            step = self.loop(s, step, batches, params, opt, sched)
        if step == self.total or (self.stop.is_set() and not self.cancel.is_set()):
            self.eval_and_log(s, step)  # a stopped run's eval loss is its saved weights', not an older one
        return step

    def back_to_best(self, s: Setup, step: int) -> bool:
        """Put back the weights of early stopping's best evaluation (its checkpoint, kept for this), so that the run
        saves and reports those and not the ones `patience` evaluations past it; False when there is no such
        checkpoint (checkpoints at other steps than the evaluations) and the last weights stay."""
        best = self.early.best_step
        weights = checkpoints.weights_at(self.run.path, best) if best and best != step else None
        measured = self.evaluator.measured.get(best) or next(  # a resumed run: as its metrics file has them
            ({k: v for k, v in m.items() if k.startswith("eval_")} for m in self.run.metrics()
             if m.get("step") == best and self.early.metric in m), None)
        if weights is None or measured is None:
            return False
        checkpoints.load_weights(s.model, weights)
        self.evaluator.went_back(step, best, measured)  # the report takes these weights as measured at `best`
        if self.group.main:
            self.run.write_status(**measured)
        return True

    def loop(self, s: Setup, step: int, batches, params, opt, sched) -> int:
        """Optimizer steps from `step` until the last, a stop, a cancel or early stopping; the step reached."""
        t = self.cfg.train
        eval_every = self.eval_every = t.eval_every or max(1, self.total // 4)
        save_every = t.save_every or eval_every
        self.train_started, self.recent, pace = time.time(), [], Pace()
        while step < self.total and not self.cancel.is_set():
            began = time.time()
            loss, grad_norm, n_tokens, n_rows, n_positions = self.step(s, batches, params, opt, sched)
            step, self.steps_done = step + 1, self.steps_done + 1
            if self.average:
                self.average.update()
            pace.add(n_tokens, n_rows, time.time() - began, n_positions)
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss is {loss} at step {step}: the run stopped there; lower the "
                                         "learning rate (or use fp32) and start again")
            if step % t.log_every == 0 or step == self.total:
                self.log_step(step, loss, grad_norm, sched.get_last_lr()[0], pace)
            train_loss = sum(self.recent) / len(self.recent) if self.recent else None
            due = step % eval_every == 0 and self.total - step >= eval_every / 2  # one due just before the end
            due = (due or self.measure.is_set()) and step < self.total  # is left to the final evaluation
            self.measure.clear()
            evaluated = due and self.eval_and_log(s, step, train_loss, averaged=bool(self.average))
            if evaluated and self.early.update(step, evaluated):
                self.early_stopped, e = True, self.early
                kept = self.back_to_best(s, step)
                self.note = Event("early_stopped_best" if kept else "early_stopped",
                                  f"stopped early at step {step}: {e.metric} has not improved for {e.patience} "
                                  f"evaluations (best {e.best:.4f} at step {e.best_step})"
                                  + ("; the run keeps that step's weights" if kept else ""), step=step,
                                  metric=e.metric, patience=e.patience, best=f"{e.best:.4f}", best_step=e.best_step)
                break
            if t.time_limit_min and time.time() - self.started > 60 * t.time_limit_min and step < self.total:
                self.note = Event("time_limit", f"stopped at step {step}: the time limit of {t.time_limit_min:g} "
                                  "minutes per run", step=step, minutes=f"{t.time_limit_min:g}")
                self.stop.set()
            if self.stop.is_set() or (step % save_every == 0 and step < self.total):
                self.checkpoint(s, step, opt, sched)
            if self.stop.is_set():
                break
        return step


def run(cfg: RunConfig, run_dir: RunDir, stop: threading.Event | None = None,
        on_event: Callable[[dict], None] | None = None, resume: bool = False,
        cancel: threading.Event | None = None, group: parallel.Group | None = None,
        measure: threading.Event | None = None) -> RunResult:
    """Train `cfg` into `run_dir` (going on from its last usable checkpoint when `resume`); never raises:
    failures end as state `failed` with a message. `stop` saves and ends; `cancel` ends without saving.
    `measure`: evaluate after the current step (and clear it). In a data-parallel `group` (accelerate launch) only
    the main process writes the run directory."""
    group = group or parallel.Group()
    run_dir = run_dir if group.main else ReadOnlyRun(run_dir.id)
    stop = stop or threading.Event()
    restored = _restored(run_dir) if resume else None
    trainer = Trainer(cfg, run_dir, stop, on_event, restored, cancel, group, measure)
    s = None
    try:
        run_dir.write_status(state="running", started=time.time(), error="", error_code=None, error_fields=None,
                             finished=None, phase_started=time.time(),
                             phase="loading", first_use=modeling.first_use(cfg.model_ref()),
                             start_from=cfg.start_from or None, data_name=Path(cfg.data.path).name)
        s = setup(cfg, str(group.accelerator.device) if group.distributed else None)
        _prepare(trainer, s)
        asked = cfg.train.batch_size
        if cfg.train.auto_batch_size and not restored:
            batch_fit.fit(cfg, s, run_dir)
        trainer.total, trainer.per_epoch = run_setup.total_steps(cfg, len(s.train), group.world)
        trainable, total = methods.trainable_parameters(s.model)
        run_dir.write_status(phase="training", phase_started=time.time(), total_steps=trainer.total,
                             trainable_params=trainable,
                             total_params=total, n_train=len(s.train), n_val=len(s.val), labels=s.labels,
                             precision=precision.describe(s.autocast), device=s.device, processes=group.world)
        fitting = cfg.train.auto_batch_size and not restored and not group.distributed
        step = batch_fit.train(trainer, s, run_dir, asked) if fitting else trainer.train(s)
        if trainer.cancel.is_set():
            trainer.status(step, state="cancelled", phase="done", finished=time.time())
            return RunResult("cancelled", step)
        trainer.phase("saving")
        if group.main:
            save(s, run_dir, methods.get(cfg.method).adapter)
            trainer.task.keep(cfg, s, run_dir.path)
            model_card.write(run_dir, cfg, s, trainer.evaluator.final_report(step) if s.val else {})
        state = "stopped" if step < trainer.total and not trainer.early_stopped else "completed"
        trainer.status(step, state=state, phase="done", finished=time.time(), note=trainer.note or None)
        return RunResult(state, step)
    except Exception as exc:  # noqa: BLE001 - a failed run must never take the app down
        expected = memory.is_oom(exc) or isinstance(exc, (data_mod.DataError, modeling.ModelNotFound, ValueError,
                                                            FloatingPointError))
        log.warning("run %s failed: %s", run_dir.id, exc, exc_info=not expected)  # tracebacks for surprises only
        message = failures.explain(exc, cfg)
        run_dir.write_status(state="failed", phase="done", error=message, finished=time.time(),
                             **failures.error_code(exc, cfg))
        return RunResult("failed", run_dir.status().get("step", 0), message)
    finally:
        trainer = s = None  # the trainer's evaluator holds the model too: both go before the heap is trimmed
        memory.release()


def _prepare(trainer: Trainer, s: Setup) -> None:
    """What the run's task makes ready before the first step (a preference run: the reference's log-probabilities
    of every reply), with its phase and rows counted in the run's status."""
    task, cfg = trainer.task, trainer.cfg
    phase = task.prepare_phase(cfg)
    if phase:
        trainer.phase(phase)
        trainer.run.write_status(phase_done=0, phase_total=len(s.train) + len(s.val))
    seen = {"done": 0}

    def tick(n: int) -> None:
        seen["done"] += n
        trainer.run.write_status(phase_done=seen["done"])

    s.model.eval()
    try:
        s.train, s.val = task.prepare(s.model, [s.train, s.val], cfg, s.device, s.autocast_context,
                                      s.tokenizer.pad_token_id, methods.get(cfg.method).reference_view(s.model), tick)
    finally:
        s.model.train()


def _restored(run_dir: RunDir) -> checkpoints.Restored | None:
    """The run's last usable checkpoint; the metrics after it are dropped (they will be written again)."""
    restored = checkpoints.latest(run_dir.path)
    step = restored.step if restored else 0
    run_dir.keep_metrics_until(step)
    skipped = "; ".join(restored.skipped) if restored and restored.skipped else ""
    code, text = ("resumed", f"resumed from step {step}") if step else \
        ("restarted", "no usable checkpoint: started again from step 0")
    if skipped:
        code, text = code + "_skipping", text + "; skipped damaged checkpoints: " + skipped
    run_dir.write_status(resumed=Event(code, text, step=step, skipped=skipped), step=step)
    return restored
