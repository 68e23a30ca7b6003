"""What a failed run's status says: its error in one English line, and as a code with fields that the UI writes in
the person's language (out of memory with a smaller batch to try, the data's problems each with its place)."""

from __future__ import annotations

from ftlab import data as data_mod
from ftlab.config import RunConfig
from ftlab.train import memory


def error_code(exc: Exception, cfg: RunConfig) -> dict:
    """The failure as a code with fields, which the UI writes in the person's language (`error` stays English)."""
    if memory.is_oom(exc):
        return {"error_code": "oom", "error_fields": {"batch_size": cfg.train.batch_size,
                                                      "smaller": max(1, cfg.train.batch_size // 2)}}
    if isinstance(exc, data_mod.DataError):
        problems = [{"code": getattr(p, "code", None), "fields": getattr(p, "fields", None), "text": str(p)}
                    for p in exc.problems[:50]]
        return {"error_code": "data", "error_fields": {"problems": problems}}
    return {"error_code": None, "error_fields": None}


def explain(exc: Exception, cfg: RunConfig) -> str:
    """The failure in one English line (kept in the run's status as `error`)."""
    if memory.is_oom(exc):
        smaller = max(1, cfg.train.batch_size // 2)
        return (f"out of memory at batch size {cfg.train.batch_size}: try {smaller} or gradient checkpointing "
                "(or a shorter max length)")
    if isinstance(exc, data_mod.DataError):
        return "data problems:\n" + str(exc)
    return f"{type(exc).__name__}: {exc}"

