"""What a dataset looks like to a model before training: token lengths against the max length (and how many rows
would be cut), the label distribution, and one example rendered through the chat template with the tokens that
carry loss marked.
"""

from __future__ import annotations

from collections import Counter

from ftlab import data, encode, modeling


def token_lengths(ds: data.Dataset, tok) -> list[int]:
    if ds.format == "classification":
        return [len(tok(str(r["text"]))["input_ids"]) for r in ds.rows]
    return [len(encode.encode_chat(tok, data.to_messages(ds.format, r), 10**9)["input_ids"]) for r in ds.rows]


def loss_spans(ds: data.Dataset, tok, max_length: int, index: int = 0) -> list[tuple[str, str | None]]:
    """(text piece, "loss" or None) for one chat example, merging neighbouring tokens of the same kind."""
    example = encode.encode_chat(tok, data.to_messages(ds.format, ds.rows[index]), max_length)
    groups: list[tuple[list[int], str | None]] = []  # decoded per group, so multi-token characters stay whole
    for token_id, label in zip(example["input_ids"], example["labels"]):
        kind = "loss" if label != encode.IGNORE else None
        if groups and groups[-1][1] == kind:
            groups[-1][0].append(token_id)
        else:
            groups.append(([token_id], kind))
    return [(tok.decode(ids), kind) for ids, kind in groups]


def analyse(path: str, model_ref: str, max_length: int) -> dict:
    """Token-length stats, rows over `max_length`, label counts and (chat) a loss-marked example."""
    ds = data.load(path)
    where = modeling.resolve(model_ref).path
    tok = modeling.load_tokenizer(where)
    lengths = token_lengths(ds, tok)
    result = {
        "lengths": lengths,
        "max_length": max_length,
        "truncated": sum(n > max_length for n in lengths),
        "mean_length": sum(lengths) / len(lengths),
        "longest": max(lengths),
        "labels": dict(Counter(str(r["label"]) for r in ds.rows)) if ds.labels else {},
        "plain_template": bool(getattr(tok, "ftlab_plain_template", False)) and ds.task == "chat",
        "example": loss_spans(ds, tok, max_length) if ds.task == "chat" else [],
    }
    return result
