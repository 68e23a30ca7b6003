"""What a dataset looks like to a model before training: rows per split, token lengths against the max length
(and how many rows would be cut), the label distribution, and one example rendered through the chat template with
the tokens that carry loss marked. Rows are tokenized in batches, so 10,000 rows take a second or two.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from ftlab import data, modeling
from ftlab.data import encode
from ftlab.config import DataConfig
from ftlab.data.formats import FORMATS, to_messages


def _renderer(tok):
    """A fast way to render conversations as apply_chat_template does: the compiled template itself, when it gives
    the same text as apply_chat_template on a probe (else apply_chat_template, one row at a time)."""
    def slow(messages):
        return tok.apply_chat_template(messages, tokenize=False)

    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        template = _compile_jinja_template(tok.chat_template)
    except Exception:  # noqa: BLE001 - a private helper: fall back to the public call
        return slow
    extra = dict(tok.special_tokens_map)

    def fast(messages):
        return template.render(messages=messages, add_generation_prompt=False, **extra)

    probe = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
             {"role": "assistant", "content": "a"}]
    try:
        return fast if fast(probe) == slow(probe) else slow
    except Exception:  # noqa: BLE001 - a template that rejects the probe (no system role, say)
        return slow


def _count(tok, texts: list[str], **kwargs) -> list[int]:
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is not None and not kwargs.get("pairs"):
        backend.no_truncation()  # state left by earlier calls (a max length, padding) would skew the counts
        backend.no_padding()
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        return [len(e) for e in encode(texts, add_special_tokens=kwargs.get("special", True))]
    return [len(ids) for ids in tok(texts, kwargs.get("pairs"), add_special_tokens=kwargs.get("special", True))
            ["input_ids"]]


def token_lengths(ds: data.Dataset, tok, chunk: int = 1000) -> list[int]:
    """Tokens per row as the model will see them (before the max length applies). Chat rows are rendered in
    chunks while a worker thread tokenizes the previous chunk (the tokenizer runs outside the GIL)."""
    if ds.format == "text":
        return [n + 1 for n in _count(tok, [r["text"] for r in ds.rows])]
    if FORMATS[ds.format].labelled:
        pairs = [r["text_pair"] for r in ds.rows] if ds.format == "sentence_pair" else None
        return _count(tok, [r["text"] for r in ds.rows], pairs=pairs)
    render = _renderer(tok)
    with ThreadPoolExecutor(1) as pool:
        futures = [pool.submit(_count, tok, [render(to_messages(ds.format, r)) for r in ds.rows[i : i + chunk]],
                               special=False) for i in range(0, len(ds.rows), chunk)]
        return [n for f in futures for n in f.result()]


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
    with LOCK:  # one analysis at a time: a tokenizer must not be used from two threads at once
        tok = tokenizer(str(modeling.resolve(model_ref).path))
        lengths = token_lengths(ds, tok)
        return _result(ds, splits, tok, lengths, max_length)


LOCK = threading.Lock()


@lru_cache(maxsize=4)
def tokenizer(path: str):
    """Tokenizers of recently analysed models, kept: the user tends to analyse again after changing a setting."""
    return modeling.load_tokenizer(path)


def _result(ds: data.Dataset, splits: data.Splits, tok, lengths: list[int], max_length: int) -> dict:
    return {
        "lengths": lengths,
        "max_length": max_length,
        "truncated": sum(n > max_length for n in lengths),
        "windows": ds.format == "text",
        "mean_length": sum(lengths) / len(lengths),
        "longest": max(lengths),
        "splits": {"train": len(splits.train), "validation": len(splits.val), "validation_from": splits.val_source,
                   "held_out": splits.held_out},
        "labels": dict(Counter(r["label"] for r in ds.rows)) if ds.labels else {},
        "plain_template": bool(getattr(tok, "ftlab_plain_template", False)) and not FORMATS[ds.format].labelled
        and ds.format != "text",
        "example": [] if FORMATS[ds.format].labelled else loss_spans(ds, tok, max_length),
    }
