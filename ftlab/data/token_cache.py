"""Encoded examples kept on disk, so the same data is tokenized once: the key is everything that decides the
encoding (the rows themselves, their format and labels, the tokenizer's files and chat template, the max length,
whether prompts are trained), so any change to one of them encodes afresh. Plain JSON, never pickle.

    $FTLAB_HOME/cache/tokens/<sha256>.json
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ftlab import paths

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "chat_template.json",
                   "special_tokens_map.json", "vocab.txt", "merges.txt", "tokenizer.model")


def tokenizer_fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = Path(model_dir) / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def key(**parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def cached(cache_key: str, build):
    """`build()`'s result, from the cache when this key was built before (a damaged entry is built again)."""
    folder = paths.home() / "cache" / "tokens"
    path = folder / f"{cache_key}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = build()
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.part")
    partial.write_text(json.dumps(value), encoding="utf-8")
    partial.replace(path)  # whole or not at all, even with two runs writing it at once
    return value
