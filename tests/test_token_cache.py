"""The same data is tokenized once: a second run with the same rows, tokenizer and settings reads the encoded
examples back; any change to what decides the encoding encodes afresh; a damaged cache entry is rebuilt."""

from __future__ import annotations

import pytest

from ftlab import data, modeling, paths
from ftlab.data import encode
from ftlab.train import run_setup
from ftlab.config import RunConfig


@pytest.fixture
def setting(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("FTLAB_HOME", str(tmp_path))
    cfg = RunConfig(task="chat", model=str(tiny_llama), method="lora")
    cfg.data.path = "pirate_chat"
    return cfg, modeling.load_tokenizer(tiny_llama), tiny_llama


def encoded(cfg, tok, model_dir):
    return run_setup._examples(cfg, data.load_splits(cfg.data, cfg.train.seed), tok, model_dir)


def entries():
    return sorted((paths.home() / "cache" / "tokens").glob("*.json"))


def test_a_second_encoding_of_the_same_data_is_read_back_not_tokenized(setting, monkeypatch):
    cfg, tok, model_dir = setting
    first = encoded(cfg, tok, model_dir)
    assert len(entries()) == 1 and len(first[0]) > 100
    monkeypatch.setattr(encode, "encode_row", lambda *a, **k: pytest.fail("tokenized again"))
    assert encoded(cfg, tok, model_dir) == first


def test_a_change_in_what_decides_the_encoding_encodes_afresh(setting):
    cfg, tok, model_dir = setting
    first = encoded(cfg, tok, model_dir)
    cfg.train.max_length = 80
    short = encoded(cfg, tok, model_dir)
    assert len(entries()) == 2 and max(len(e["input_ids"]) for e in short[0]) <= 80 < max(
        len(e["input_ids"]) for e in first[0])
    cfg.data.train_on_prompt = True
    assert len(encoded(cfg, tok, model_dir)[0]) and len(entries()) == 3


def test_a_damaged_entry_is_rebuilt(setting):
    cfg, tok, model_dir = setting
    first = encoded(cfg, tok, model_dir)
    (entry,) = entries()
    entry.write_text('{"half a fi')
    assert encoded(cfg, tok, model_dir) == first
    assert entry.read_text().startswith("[[")
