"""What a dataset looks like to a model before training: rows per split, token lengths against the max length
(and how many rows would be cut), the label distribution, and one example rendered through the chat template with
the tokens that carry loss marked. Rows are tokenized in batches, so 10,000 rows take a second or two.
"""

from __future__ import annotations

from collections import Counter

from ftlab import data, encode, modeling
from ftlab.config import DataConfig
from ftlab.formats import FORMATS, to_messages


def token_lengths(ds: data.Dataset, tok) -> list[int]:
    """Tokens per row as the model will see them (before the max length applies)."""
    if ds.format == "text":
        return [len(ids) + 1 for ids in tok([r["text"] for r in ds.rows])["input_ids"]]
    if ds.task == "classify":
        pairs = [r["text_pair"] for r in ds.rows] if ds.format == "sentence_pair" else None
        return [len(ids) for ids in tok([r["text"] for r in ds.rows], pairs)["input_ids"]]
    texts = [tok.apply_chat_template(to_messages(ds.format, r), tokenize=False) for r in ds.rows]
    return [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]


def loss_spans(ds: data.Dataset, tok, max_length: int, index: int = 0) -> list[tuple[str, str | None]]:
    """(text piece, "loss" or None) for one example, merging neighbouring tokens of the same kind."""
    example = encode.encode_row(tok, ds.format, ds.rows[index], max_length)[0]
    groups: list[tuple[list[int], str | None]] = []  # decoded per group, so multi-token characters stay whole
    for token_id, label in zip(example["input_ids"], example["labels"]):
        kind = "loss" if label != encode.IGNORE else None
        if groups and groups[-1][1] == kind:
            groups[-1][0].append(token_id)
        else:
            groups.append(([token_id], kind))
    return [(tok.decode(ids), kind) for ids, kind in groups]


def analyse(path: str, model_ref: str, max_length: int, options: dict | None = None, seed: int = 42) -> dict:
    """Rows per split, token-length stats, rows over `max_length`, label counts and (chat) a loss-marked example.

    `options` holds DataConfig fields (format, columns, val_path, val_fraction...)."""
    dc = DataConfig(path=path, **(options or {}))
    splits = data.load_splits(dc, seed)
    ds = splits.dataset
    tok = modeling.load_tokenizer(modeling.resolve(model_ref).path)
    lengths = token_lengths(ds, tok)
    return {
        "lengths": lengths,
        "max_length": max_length,
        "truncated": sum(n > max_length for n in lengths),
        "windows": ds.format == "text",
        "mean_length": sum(lengths) / len(lengths),
        "longest": max(lengths),
        "splits": {"train": len(splits.train), "validation": len(splits.val), "validation_from": splits.val_source},
        "labels": dict(Counter(r["label"] for r in ds.rows)) if ds.labels else {},
        "plain_template": bool(getattr(tok, "ftlab_plain_template", False)) and FORMATS[ds.format].task == "chat"
        and ds.format != "text",
        "example": loss_spans(ds, tok, max_length) if ds.task == "chat" else [],
    }
