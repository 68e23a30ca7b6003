"""Gradient checkpointing where memory needs it: batches over the activation budget recompute their activations,
the others store them, and either way the loss and the gradients are the same."""

from __future__ import annotations

import torch

from ftlab import checkpointing, encode, losses, methods, modeling
from ftlab.config import RunConfig


def layers_checkpointing(model) -> set[bool]:
    return {m.gradient_checkpointing for m in model.modules() if hasattr(m, "gradient_checkpointing")
            and type(m).__name__.endswith("DecoderLayer")}


def test_long_batches_recompute_short_ones_store_and_the_gradients_agree(tiny_llama):
    torch.manual_seed(0)
    cfg = RunConfig(task="chat", model=str(tiny_llama), method="lora")
    model = methods.get("lora").apply(modeling.load_model(tiny_llama, "chat"), cfg).train()
    tok = modeling.load_tokenizer(tiny_llama)
    chat = [{"role": "user", "content": "Tell me about the sea. " * 12}, {"role": "assistant", "content": "Arr! " * 30}]
    long = encode.collate([encode.encode_chat(tok, chat, 256)] * 2, tok.pad_token_id)
    short = encode.collate([encode.encode_chat(tok, chat[:1] + [{"role": "assistant", "content": "Arr!"}], 40)] * 2,
                           tok.pad_token_id)
    budget = (checkpointing.activation_mb(model, *short["input_ids"].shape)
              + checkpointing.activation_mb(model, *long["input_ids"].shape)) / 2
    policy = checkpointing.Policy(model, always=False, budget=budget)
    params = [p for p in model.parameters() if p.requires_grad]

    def grads(batch):
        policy.prepare(*batch["input_ids"].shape)
        return torch.autograd.grad(losses.causal_loss(model, batch), params)

    stored = grads(short)
    assert layers_checkpointing(model) == {False}
    recomputed = grads(long)
    assert layers_checkpointing(model) == {True}
    assert policy.used == 1
    always = checkpointing.Policy(model, always=True, budget=budget)
    always.prepare(*short["input_ids"].shape)
    assert layers_checkpointing(model) == {True}
    for a, b in zip(torch.autograd.grad(losses.causal_loss(model, short), params), stored):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    policy.on = None
    policy.budget = 10**9  # the long batch again, stored this time
    for a, b in zip(grads(long), recomputed):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert layers_checkpointing(model) == {False}


def test_attention_makes_activations_grow_faster_than_the_length(tiny_llama):
    model = modeling.load_model(tiny_llama, "chat")
    assert checkpointing.activation_mb(model, 4, 512) > 2 * checkpointing.activation_mb(model, 4, 256)
    assert checkpointing.budget_mb(0, "cpu") == 1024 and checkpointing.budget_mb(300, "cpu") == 300
