"""Auto batch size: the largest batch (from the one asked, halving) whose longest rows train without running out
of memory, with gradient accumulation keeping the effective batch; and a first training step that still runs out
of memory halves it again (the probe had a little more room than the run: no optimizer states yet, nor the heap
the sizes that failed left behind)."""

from __future__ import annotations

from ftlab import tasks
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir
from ftlab.train import memory, recompute, run_setup
from ftlab.train.run_setup import Setup


def fit(cfg: RunConfig, s: Setup, run_dir: RunDir) -> None:
    """Find the largest batch (from the configured one, halving) whose longest rows train without running out of
    memory; keep the effective batch with gradient accumulation."""
    longest = sorted(s.train, key=lambda e: len(e["input_ids"]), reverse=True)
    policy, task = recompute.Policy.for_run(s.model, cfg.train, s.device), tasks.get(cfg.task)

    def try_batch(size: int) -> None:  # as the run will train it: the same loss, the same layers recomputed
        batch = run_setup.tensors(s, longest[:size])
        policy.prepare(*batch["attention_mask"].shape, task.scored_tokens(batch))
        try:
            with s.autocast_context():
                task.loss(s.model, batch, None, cfg).backward()
        finally:
            s.model.zero_grad(set_to_none=True)

    asked = cfg.train.batch_size
    size = memory.largest_batch(try_batch, min(asked, len(longest)))
    policy.off()
    if size < asked:
        cfg.train.grad_accum *= -(-asked // size)
        cfg.train.batch_size = size
    _keep(cfg, run_dir, asked)


def _keep(cfg: RunConfig, run_dir: RunDir, asked: int) -> None:
    """Save the batch found (a resume skips the fit: it must find the batch that ran, not the one asked) and say it
    in the run's status."""
    size = cfg.train.batch_size
    if size < asked:
        run_dir.save_config(cfg)
    run_dir.write_status(note=None, batch_size=size, grad_accum=cfg.train.grad_accum,
                         auto_batch=f"auto batch size: {size} (asked {asked}), gradient accumulation "
                                    f"{cfg.train.grad_accum}")


def train(trainer, s: Setup, run_dir: RunDir, asked: int) -> int:
    """Train with an auto batch size: when the first step still runs out of memory (the fit's probe had a little
    more room: no optimizer states, no heap left over from the sizes that failed), halve the batch again and start
    over, keeping the effective batch, until a step fits or the batch is 1."""
    cfg = trainer.cfg
    while True:
        try:
            return trainer.train(s)
        except Exception as exc:  # noqa: BLE001 - only a first step out of memory is retried
            if not (memory.is_oom(exc) and trainer.steps_done == 0 and cfg.train.batch_size > 1):
                raise
        memory.release()  # outside the handler: the failed step's tensors went with its traceback
        cfg.train.batch_size, cfg.train.grad_accum = cfg.train.batch_size // 2, cfg.train.grad_accum * 2
        trainer.total, trainer.per_epoch = run_setup.total_steps(cfg, len(s.train), trainer.group.world)
        _keep(cfg, run_dir, asked)
