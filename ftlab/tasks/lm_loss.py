"""The training loss of a causal LM, computed only where it counts.

A chat row trains on its assistant tokens only; the rest (system prompt, user turns, padding) is masked. The
usual forward pass still sends every position through the output layer (hidden size x vocabulary, 49k words for
SmolLM2) and a softmax over the vocabulary, then throws most of it away. Here the model's body runs as usual and
only the positions whose next token is trained go through the output layer: the same numbers for those tokens,
without the rest of the work and memory. Models whose output needs more than the output layer (logit soft-capping
or scaling, router losses) and prompt-learning adapters (they add virtual tokens in the wrapper's forward) take the
usual path.
"""

from __future__ import annotations

IGNORE = -100
_EXTRA_OUTPUT = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_router_logits")


def lm_parts(model):
    """(body, output layer) of a causal LM, under a PEFT wrapper when there is one (LoRA, DoRA and IA3 layers live
    inside the modules, so they run either way), or None when only the full forward pass gives the right logits."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        if model.peft_config[model.active_adapter].is_prompt_learning:
            return None
        model = model.get_base_model()
    if any(getattr(model.config, name, None) for name in _EXTRA_OUTPUT):
        return None
    body, head = getattr(model, getattr(model, "base_model_prefix", ""), None), model.get_output_embeddings()
    return (body, head) if body is not None and head is not None and body is not model else None


def token_losses(model, batch: dict):
    """Cross-entropy of every trained token (label != -100) of a right-padded batch, row by row in order."""
    import torch.nn.functional as F

    targets = batch["labels"][:, 1:]
    keep = targets != IGNORE
    parts = lm_parts(model)
    if parts is None:  # prompt tuning prepends its virtual tokens' logits: the last positions are the row's
        width = batch["input_ids"].shape[1]
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
        logits = logits[:, -width:][:, :-1][keep]
    else:
        body, head = parts
        hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      use_cache=False).last_hidden_state
        logits = head(hidden[:, :-1][keep])
    return F.cross_entropy(logits.float(), targets[keep], reduction="none")


def causal_loss(model, batch: dict):
    """The mean loss over the batch's trained tokens (what the model's own forward with labels returns)."""
    losses = token_losses(model, batch)
    return losses.mean() if losses.numel() else losses.sum()  # no trained token: 0, still part of the graph
