"""Turn rows into token ids: chat conversations with loss on assistant tokens, plain text, or text + label ids.

Chat: the conversation is rendered with the tokenizer's chat template; every assistant turn (its end-of-turn
token included, so the model learns to stop) carries loss, the rest is masked with -100. Plain text: every token
carries loss and a document ends with EOS; a document longer than the max length becomes several windows, so
nothing is cut away. Batches are padded to their own longest row; rows are grouped by length.
"""

from __future__ import annotations

import random

from ftlab.data.formats import FORMATS, to_messages

IGNORE = -100


def _assistant_spans(tok, messages: list[dict]) -> list[tuple[int, int]]:
    """Character spans of the rendered conversation that belong to assistant turns."""
    spans = []
    for i, turn in enumerate(messages):
        if turn["role"] != "assistant":
            continue
        start = len(tok.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        # the turn ends at its end-of-turn token: the template's newline after it is not the model's to learn
        end = len(tok.apply_chat_template(messages[: i + 1], tokenize=False).rstrip())
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


def classification_inputs(tok, texts, pairs, max_length: int, **options):
    """Texts (with their second sentences, or None) as a classifier reads them: cut at the run's `max_length`,
    the one truncation rule of training, evaluation and serving alike."""
    return tok(texts, pairs, truncation=True, max_length=max_length, **options)


def encode_classification(tok, text: str, label_id: int, max_length: int, text_pair: str | None = None) -> dict:
    enc = classification_inputs(tok, text, text_pair, max_length)
    return {"input_ids": enc["input_ids"], "label": label_id}


def text_ids(tok, text: str) -> list[int]:
    """A document's token ids, closed with EOS so the model learns where documents end."""
    ids = tok(text)["input_ids"]
    return ids + [tok.eos_token_id] if tok.eos_token_id is not None and ids[-1:] != [tok.eos_token_id] else ids


def encode_text(tok, text: str, max_length: int) -> list[dict]:
    """Windows of at most `max_length` tokens over a document, every token trained."""
    ids = text_ids(tok, text)
    windows = [ids[i : i + max_length] for i in range(0, len(ids), max_length)]
    return [{"input_ids": w, "labels": list(w)} for w in windows if len(w) > 1]


def encode_row(tok, fmt: str, row: dict, max_length: int, label_index: dict | None = None,
               train_on_prompt: bool = False) -> list[dict]:
    """The training examples of one row of format `fmt` (several for a long plain-text document)."""
    if fmt == "text":
        return encode_text(tok, row["text"], max_length)
    if FORMATS[fmt].labelled:
        return [encode_classification(tok, row["text"], label_index[row["label"]], max_length, row.get("text_pair"))]
    return [encode_chat(tok, to_messages(fmt, row), max_length, train_on_prompt)]


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
