"""Turn examples into token ids: chat conversations with loss on assistant tokens, or text + label ids.

Chat: the conversation is rendered with the tokenizer's chat template; every assistant turn (its end-of-turn
token included, so the model learns to stop) carries loss, the rest is masked with -100. Batches are padded
to their own longest row; rows are grouped by length so little compute goes to padding.
"""

from __future__ import annotations

import random

IGNORE = -100


def _assistant_spans(tok, messages: list[dict]) -> list[tuple[int, int]]:
    """Character spans of the rendered conversation that belong to assistant turns."""
    spans = []
    for i, turn in enumerate(messages):
        if turn["role"] != "assistant":
            continue
        start = len(tok.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        end = len(tok.apply_chat_template(messages[: i + 1], tokenize=False))
        spans.append((start, end))
    return spans


def encode_chat(tok, messages: list[dict], max_length: int, train_on_prompt: bool = False) -> dict:
    text = tok.apply_chat_template(messages, tokenize=False)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_length)
    spans = _assistant_spans(tok, messages)
    labels = []
    for token_id, (start, end) in zip(enc["input_ids"], enc["offset_mapping"]):
        in_answer = any(s <= start < e or (start == end and s < end <= e) for s, e in spans)
        labels.append(token_id if (train_on_prompt or in_answer) else IGNORE)
    return {"input_ids": enc["input_ids"], "labels": labels}


def encode_classification(tok, text: str, label_id: int, max_length: int) -> dict:
    enc = tok(text, truncation=True, max_length=max_length)
    return {"input_ids": enc["input_ids"], "label": label_id}


def prompt_ids(tok, messages: list[dict]) -> list[int]:
    """Token ids of a conversation ready for the assistant's next reply."""
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tok(text, add_special_tokens=False)["input_ids"]


def length_grouped_batches(examples: list[dict], batch_size: int, seed: int) -> list[list[dict]]:
    """Shuffle, then sort within windows of 50 batches by length, so each batch holds similar lengths."""
    rng = random.Random(seed)
    order = list(examples)
    rng.shuffle(order)
    window = batch_size * 50
    batches = []
    for i in range(0, len(order), window):
        chunk = sorted(order[i : i + window], key=lambda e: len(e["input_ids"]))
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: list[dict], pad_id: int) -> dict:
    """Right-pad a batch into tensors (labels of padding are ignored)."""
    import torch

    width = max(len(e["input_ids"]) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    out = {"input_ids": ids, "attention_mask": mask}
    if "labels" in batch[0]:
        out["labels"] = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example["input_ids"])
        ids[row, :n] = torch.tensor(example["input_ids"])
        mask[row, :n] = 1
        if "labels" in example:
            out["labels"][row, :n] = torch.tensor(example["labels"])
    if "label" in batch[0]:
        out["labels"] = torch.tensor([e["label"] for e in batch])
    return out
