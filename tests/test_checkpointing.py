"""Gradient checkpointing where memory needs it: a batch over the activation budget recomputes as few layers as it
takes, the estimate behind that matches what autograd really keeps, and the loss and gradients never change."""

from __future__ import annotations

import pytest
import torch

from ftlab import methods
from ftlab.tasks import lm_loss
from ftlab.train import recompute
from ftlab.config import RunConfig


def recomputing(model) -> list[bool]:
    return [m.gradient_checkpointing for m in recompute._layers(model)]


def saved_mb(model, forward) -> float:
    """MB of the tensors autograd keeps for the backward pass of `forward()` (weights left out)."""
    weights = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    kept: dict[int, int] = {}

    def pack(t):
        key = t.untyped_storage().data_ptr()
        if key not in weights:
            kept[key] = max(kept.get(key, 0), t.untyped_storage().nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        forward()
    return sum(kept.values()) / 2**20


def random_chat(rows: int, length: int, vocab: int = 8000) -> dict:
    ids = torch.randint(5, vocab, (rows, length))
    mask = torch.ones_like(ids)
    mask[0, length // 2:] = 0
    labels = torch.full_like(ids, lm_loss.IGNORE)
    labels[:, length // 2:] = ids[:, length // 2:]
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def shape(batch) -> tuple[int, int, int]:
    return (*batch["input_ids"].shape, int((batch["labels"][:, 1:] != lm_loss.IGNORE).sum()))


def test_a_long_batch_recomputes_only_the_layers_it_must_and_the_gradients_agree():
    torch.manual_seed(0)
    model = methods.get("lora").apply(small_llama(layers=4), RunConfig(task="chat", method="lora")).train()
    short, long = random_chat(2, 16), random_chat(2, 256)
    estimate = recompute.Estimate(model)
    # recomputing k layers keeps k layer inputs instead of k layers, plus one layer while it recomputes
    two_layers_less = estimate.total(*shape(long)) - estimate.layer(*shape(long)[:2]) + 2 * 2 * 256 * 256 * 4
    policy = recompute.Policy(model, always=False, budget=two_layers_less / 2**20)
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(batch):
        policy.prepare(*shape(batch))
        return torch.autograd.grad(lm_loss.causal_loss(model, batch), params)

    stored = grads(short)
    assert policy.used == 0 and not any(recomputing(model))
    partly = grads(long)
    assert recomputing(model) == [True, True, False, False] and policy.used == 1  # two of four layers are enough
    policy.budget = 0.001
    everywhere = grads(long)
    assert recomputing(model) == [True] * 4
    policy.budget = 10**9
    for a, b, c in zip(grads(long), partly, everywhere):  # stored this time
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(a, c, atol=1e-6, rtol=1e-5)
    assert not any(recomputing(model))
    always = recompute.Policy(model, always=True, budget=10**9)
    always.prepare(*shape(short))
    assert recomputing(model) == [True] * 4
    for a, b in zip(torch.autograd.grad(lm_loss.causal_loss(model, short), params), stored):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def small_llama(layers: int = 3):
    """Big enough for activations to outweigh fixed costs (rotary tables, masks), small enough to build at once."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    return AutoModelForCausalLM.from_config(LlamaConfig(
        vocab_size=8000, hidden_size=256, intermediate_size=688, num_hidden_layers=layers, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024))


def small_bert():
    from transformers import AutoModelForSequenceClassification, BertConfig

    return AutoModelForSequenceClassification.from_config(BertConfig(
        vocab_size=8000, hidden_size=256, intermediate_size=1024, num_hidden_layers=3, num_attention_heads=4,
        num_labels=3))


@pytest.mark.parametrize("kind,method", [("llama", "lora"), ("llama", "full"), ("bert", "lora"), ("bert", "full")])
def test_the_estimate_matches_what_autograd_keeps(kind, method):
    torch.manual_seed(0)
    task = "chat" if kind == "llama" else "classify"
    cfg = RunConfig(task=task, method=method)
    cfg.lora.dropout = 0.1  # LoRA's dropout keeps a copy of each adapted layer's input: counted too
    model = methods.get(method).apply(small_llama() if kind == "llama" else small_bert(), cfg).train()
    estimate = recompute.Estimate(model)
    for rows, length in ((2, 64), (4, 384)):
        batch = random_chat(rows, length)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if task == "chat":
            kept = saved_mb(model, lambda: lm_loss.causal_loss(model, batch))
            # the estimate counts the output layer at its peak (three vocabulary-wide vectors a token), autograd
            # keeps one of them: compare like with like
            scored = shape(batch)[2]
            expected = (estimate.total(rows, length, scored) - 2 * scored * estimate.vocab * 4) / 2**20
        else:
            kept = saved_mb(model, lambda: model(input_ids=ids, attention_mask=mask, labels=torch.zeros(rows).long()))
            expected = estimate.total(rows, length) / 2**20
        assert expected == pytest.approx(kept, rel=0.15), (rows, length)


def test_the_budget_defaults():
    assert recompute.budget_mb(0, "cpu") == 1024 and recompute.budget_mb(300, "cpu") == 300
