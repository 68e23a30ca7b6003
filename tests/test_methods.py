"""Every method with every task it serves: 3 training steps on a tiny model change exactly the parameters the
method means to train, and the saved result reloads (through the inference server's loader) with identical
outputs."""

from __future__ import annotations

import threading

import pytest
import torch

from ftlab.train import engine
from ftlab.serve import model_server
from ftlab.train import run_setup
from ftlab.config import RunConfig
from ftlab.methods.registry import METHODS
from ftlab.runs.run_dir import RunDir

CASES = [(task, method) for task in ("chat", "classify") for method in METHODS] + [("chat", "qlora-8bit")]


def config(task: str, method: str, model) -> RunConfig:
    cfg = RunConfig(task=task, model=str(model), method=method.removesuffix("-8bit"))
    cfg.data.path = "pirate_chat" if task == "chat" else "sentiment"
    cfg.data.val_fraction = 0
    cfg.train.learning_rate, cfg.train.batch_size, cfg.train.max_length = 1e-2, 2, 64
    cfg.freeze.last_layers, cfg.prompt.virtual_tokens = 1, 4
    cfg.quant.bits = 8 if method.endswith("-8bit") else 4
    cfg.train.precision = "fp32"  # "auto" trains in bf16 on a CPU with bf16 units; reloading is compared in fp32
    return cfg


def outputs(model, batch) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(**batch).logits.float()


@pytest.mark.parametrize("task,method", CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_method_trains_what_it_means_to_and_reloads_identically(task, method, tiny_llama, tiny_bert):
    cfg = config(task, method, tiny_llama if task == "chat" else tiny_bert)
    s = engine.setup(cfg)
    before = {n: (p.detach().clone(), p.requires_grad) for n, p in s.model.named_parameters()}
    trained = [n for n, (_, grad) in before.items() if grad]
    assert trained and len(trained) < len(before) or method == "full"

    run = RunDir.create(cfg)
    trainer = engine.Trainer(cfg, run, threading.Event(), None)
    trainer.total = 3
    assert trainer.train(s) == 3
    after = dict(s.model.named_parameters())
    unchanged = [n for n in trained if torch.equal(before[n][0], after[n].detach())]
    assert not unchanged, f"meant to train but did not change: {unchanged[:5]}"
    moved = [n for n, (value, grad) in before.items() if not grad and not torch.equal(value, after[n].detach())]
    assert not moved, f"frozen but changed: {moved[:5]}"

    engine.save(s, run, METHODS[cfg.method].adapter)
    batch = {k: v[:1] for k, v in run_setup.tensors(s, s.train[:2]).items() if k != "labels"}
    expected = outputs(s.model, batch)
    pair = model_server.load_pair(run.id, task)
    assert torch.allclose(outputs(pair.tuned, batch), expected, atol=1e-5)
