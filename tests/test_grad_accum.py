"""Gradient accumulation and data parallel weight every batch by what its loss is a mean over (trained tokens for
chat, rows for classification): one optimizer step over 4 batches of 2 rows, or over 2 processes of 4 rows, moves
the weights as one batch of the same 8 rows does (fp32, within 1e-5). Length-grouped batches with assistant-only
masks hold very different numbers of trained tokens, so averaging the batches' means would not."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from conftest import free_port

from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir
from ftlab.train import engine, parallel, recompute

ROOT = Path(__file__).resolve().parent.parent
DATA = {"chat": "pirate_chat", "classify": "sentiment"}


def config(task: str, model: Path) -> RunConfig:
    cfg = RunConfig(task=task, model=str(model), method="full")
    cfg.data.path = DATA[task]
    cfg.train.precision, cfg.train.max_grad_norm, cfg.train.max_length = "fp32", 1e9, 96
    return cfg


def one_step(cfg: RunConfig, s, batches: list[list[dict]], group: parallel.Group | None = None) -> list:
    """How one optimizer step of plain SGD (learning rate 1) over `batches` moves each trainable weight; the
    weights are put back after."""
    cfg.train.grad_accum = len(batches)
    trainer = engine.Trainer(cfg, RunDir.create(cfg) if not group or group.main else None, threading.Event(), None,
                             group=group)
    trainer.policy = recompute.Policy.for_run(s.model, cfg.train, s.device)
    trainer.forward = trainer.group.wrap(s.model)
    params = [p for p in s.model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    opt = torch.optim.SGD(params, lr=1.0)
    trainer.step(s, iter(batches), params, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0))
    moved = [b - p.detach() for b, p in zip(before, params)]
    with torch.no_grad():
        for p, b in zip(params, before):
            p.copy_(b)
    return moved


def eight_rows(s, task: str) -> list[dict]:
    """Eight training rows of uneven lengths (and, for chat, uneven trained tokens per pair of rows)."""
    rows = sorted(s.train, key=lambda e: len(e["input_ids"]))
    rows = rows[:4] + rows[-4:]
    if task == "chat":
        trained = [sum(label != -100 for label in r["labels"]) for r in rows]
        assert max(trained[6:]) > 2 * min(trained[:2])
    return rows


@pytest.mark.parametrize("task", ["chat", "classify"])
def test_four_batches_of_two_rows_step_like_one_batch_of_eight(task, tiny_llama, tiny_bert):
    cfg = config(task, tiny_llama if task == "chat" else tiny_bert)
    s = engine.setup(cfg)
    s.model.eval()  # no dropout: the two steps must see the same function
    rows = eight_rows(s, task)
    one = one_step(cfg, s, [rows])
    four = one_step(cfg, s, [rows[i : i + 2] for i in range(0, 8, 2)])
    assert max(float(a.abs().max()) for a in one) > 1e-4  # the step moves something
    for a, b in zip(one, four):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)


CHILD = r"""
import json, sys, torch
sys.path.insert(0, "tests")
from test_grad_accum import config, eight_rows, one_step
from ftlab.train import engine, parallel
group = parallel.group()
cfg = config(sys.argv[1], sys.argv[2])
s = engine.setup(cfg, str(group.accelerator.device))
s.model.eval()
rows = eight_rows(s, sys.argv[1])
mine = rows[4 * group.rank : 4 * group.rank + 4]  # each process its half of the eight
moved = one_step(cfg, s, [mine], group)
if group.main:
    torch.save(moved, sys.argv[3])
"""


@pytest.mark.slow
@pytest.mark.parametrize("task", ["chat", "classify"])
def test_two_processes_of_four_rows_step_like_one_batch_of_eight(task, tiny_llama, tiny_bert, tmp_path):
    model = tiny_llama if task == "chat" else tiny_bert
    cfg = config(task, model)
    s = engine.setup(cfg)
    s.model.eval()
    one = one_step(cfg, s, [eight_rows(s, task)])
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               str(tmp_path / "child.py"), task, str(model), str(tmp_path / "moved.pt")]
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "FTLAB_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    two = torch.load(tmp_path / "moved.pt")
    for a, b in zip(one, two):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=0)
