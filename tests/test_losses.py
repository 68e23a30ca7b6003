"""The speed-ups don't change what is learned: every trained token's loss is the same (fp32, within 1e-4) whether
its row is trained in a length-grouped padded batch, alone, or through the model's own full forward pass; and the
batch loss training uses is the model's own."""

from __future__ import annotations

import pytest
import torch

from ftlab import methods, modeling
from ftlab.data import encode
from ftlab.tasks import lm_loss
from ftlab.config import RunConfig

CHATS = [
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Arr, ahoy!"}],
    [{"role": "user", "content": "Tell me a long story about the sea and the ships on it, please."},
     {"role": "assistant", "content": "Once upon a tide a ship sailed out. " * 6}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a fish."},
     {"role": "assistant", "content": "Cod."}, {"role": "user", "content": "Another?"},
     {"role": "assistant", "content": "Herring, matey."}],
    [{"role": "user", "content": "Count to five."}, {"role": "assistant", "content": "One two three four five."}],
]


@pytest.fixture(scope="module", params=["lora", "full", "prefix", "prompt"])
def model_and_rows(request, tiny_llama):
    torch.manual_seed(0)
    cfg = RunConfig(task="chat", model=str(tiny_llama), method=request.param)
    model = modeling.load_model(tiny_llama, "causal_lm")
    with torch.no_grad():  # a LoRA adapter that starts at zero would hide a mistake in where it is applied
        model = methods.get(request.param).apply(model, cfg)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    tok = modeling.load_tokenizer(tiny_llama)
    rows = [encode.encode_chat(tok, chat, 256, False) for chat in CHATS]
    return request.param, model.eval(), rows, tok.pad_token_id


def full_forward_losses(model, row: dict) -> torch.Tensor:
    """The reference: the model's own forward pass over one unpadded row, every position's logits."""
    ids, labels = torch.tensor([row["input_ids"]]), torch.tensor([row["labels"]])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0, -ids.shape[1]:-1]
    targets = labels[0, 1:]
    keep = targets != lm_loss.IGNORE
    return torch.nn.functional.cross_entropy(logits[keep].float(), targets[keep], reduction="none")


def test_every_tokens_loss_is_the_same_grouped_alone_or_by_the_full_forward(model_and_rows):
    method, model, rows, pad = model_and_rows
    if method not in ("prefix", "prompt"):  # prompt learning keeps the full path; the others take the shortcut
        assert lm_loss.lm_parts(model) is not None
    want = [full_forward_losses(model, row) for row in rows]
    assert all(len(w) > 0 for w in want)
    with torch.no_grad():
        alone = [lm_loss.token_losses(model, encode.collate([row], pad)) for row in rows]
        grouped = lm_loss.token_losses(model, encode.collate(rows, pad))  # padded to the longest row
    for a, w in zip(alone, want):
        torch.testing.assert_close(a, w, atol=1e-4, rtol=0)
    torch.testing.assert_close(grouped, torch.cat(want), atol=1e-4, rtol=0)


def test_the_batch_loss_equals_the_models_own_and_so_do_its_gradients(model_and_rows):
    _, model, rows, pad = model_and_rows
    batch = encode.collate(rows, pad)
    params = [p for p in model.parameters() if p.requires_grad]
    own = model(**batch).loss
    own_grads = torch.autograd.grad(own, params)
    ours = lm_loss.causal_loss(model, batch)
    our_grads = torch.autograd.grad(ours, params)
    torch.testing.assert_close(ours, own, atol=1e-5, rtol=0)
    for a, b in zip(our_grads, own_grads):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
