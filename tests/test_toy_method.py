"""The method seam holds: a method written in this file alone (BitFit: only the biases train, the classifier head
at ten times the learning rate) and registered with one line validates, trains, saves and serves through the
same engine as the built-in ones, with the optimizer groups it asks for."""

from __future__ import annotations

import threading

import pytest
import torch
from safetensors.torch import load_file

from ftlab import methods, modeling
from ftlab.app.lab import Lab
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir
from ftlab.train import engine

HEAD = "classifier."


class BitFit(methods.Method):
    name, label = "bitfit", "BitFit (biases only)"
    help = "Trains the bias terms alone (and the new head)."

    def apply(self, model, cfg):
        for name, param in model.named_parameters():
            param.requires_grad_(name.endswith(".bias") or name.startswith(HEAD))
        return model

    def param_groups(self, model, cfg):
        head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(HEAD)]
        body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith(HEAD)]
        return [{"params": body}, {"params": head, "lr": 10 * cfg.train.learning_rate}]


@pytest.fixture
def bitfit():
    methods.register(BitFit())  # the one registration line
    yield
    methods.METHODS.pop("bitfit")


def test_a_method_defined_in_a_test_file_trains_only_what_it_says_and_serves(bitfit, tiny_bert):
    cfg = RunConfig(task="classify", model=str(tiny_bert), method="bitfit")
    cfg.data.path = "sentiment"
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.precision = 6, 1e-2, "fp32"
    assert cfg.validate() == []
    s = engine.setup(cfg)
    trainer = engine.Trainer(cfg, RunDir.create(cfg), threading.Event(), None)
    trainer.total = 6
    _, opt, _ = trainer.optimizer(s)
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 1e-1]

    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    tuned = load_file(run.model_dir / "model.safetensors")  # full weights: the method is not an adapter
    base = modeling.load_model(tiny_bert, "sequence_classification", labels=["negative", "positive"])
    before = {n: p.detach() for n, p in base.named_parameters()}
    moved = {n for n, p in before.items() if n in tuned and not torch.equal(tuned[n], p)}
    assert moved and all(n.endswith(".bias") or n.startswith(HEAD) for n in moved), sorted(moved)[:5]
    assert any(n.endswith(".bias") and not n.startswith(HEAD) for n in moved)  # the body's biases learnt too
    answer = Lab().classify(run.id, ["a lovely evening"])[0]
    assert set(answer["tuned"]) == {"negative", "positive"} and answer["tuned"] != answer["base"]
