"""Serving beyond chat: a whole file classified base vs tuned into a CSV, blind A/B votes exported as preference
pairs, and a Hub push whose token never reaches the disk or the logs."""

from __future__ import annotations

import csv
import json
import logging

import pytest

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.data.readers import DataError
from ftlab.runs.run_dir import RunDir
from ftlab.app.lab import Lab
from ftlab.app.ui.chat_tab import vote_record


@pytest.fixture(scope="module")
def classify_run(tiny_bert) -> str:
    cfg = RunConfig(task="classify", model=str(tiny_bert), method="lora")
    cfg.data.path = "sentiment"
    cfg.train.max_steps, cfg.train.learning_rate = 3, 5e-3
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


def test_a_labelled_file_is_classified_by_base_and_tuned_into_a_csv(classify_run, tmp_path):
    source = tmp_path / "reviews.csv"
    source.write_text("review,sentiment\nGreat food and kind staff.,positive\nCold soup; rude waiter.,negative\n"
                      "\"Fine, I guess.\",positive\n", encoding="utf-8")
    lab = Lab()
    result = lab.classify_file(classify_run, str(source))
    direct = lab.classify(classify_run, ["Great food and kind staff.", "Cold soup; rude waiter.", "Fine, I guess."])
    with open(result["csv"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["text"] for r in rows] == ["Great food and kind staff.", "Cold soup; rude waiter.", "Fine, I guess."]
    for row, d in zip(rows, direct):
        assert row["base"] == max(d["base"], key=d["base"].get)
        assert row["tuned"] == max(d["tuned"], key=d["tuned"].get)
        assert row["agree"] == str(row["base"] == row["tuned"])
        assert row["tuned_right"] == str(row["tuned"] == row["label"])
    assert result["summary"].startswith("3 texts; base and tuned agree on")
    assert "Against the file's labels" in result["summary"]


def test_a_file_with_an_empty_text_names_its_line(classify_run, tmp_path):
    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "fine"}\n{"text": ""}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"texts.jsonl, line 2: no text in column 'text'"):
        Lab().classify_file(classify_run, str(source))


def test_blind_votes_export_as_preference_pairs(classify_run):
    history = [{"role": "user", "content": "Say hi"}]
    base_h = history + [{"role": "assistant", "content": "hello"}]
    tuned_h = history + [{"role": "assistant", "content": "Arr, ahoy!"}]
    lab = Lab()
    for choice, swap in (("A is better", True), ("B is better", True), ("Tie", False)):
        lab.vote(classify_run, vote_record(choice, base_h, tuned_h, swap))
    pairs = [json.loads(line) for line in lab.preference_pairs_jsonl(classify_run).splitlines()]
    assert pairs == [{"prompt": history, "chosen": "Arr, ahoy!", "rejected": "hello"},  # A was the tuned pane
                     {"prompt": history, "chosen": "hello", "rejected": "Arr, ahoy!"}]  # the tie is left out


def test_a_failed_hub_push_never_writes_or_logs_the_token(classify_run, monkeypatch, caplog, tmp_path):
    token = "hf_SECRETtoken1234567890"
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: the push fails at once
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValueError, match="push to me/tuned failed") as failure:
        Lab().push_to_hub(classify_run, "me/tuned", token)
    assert token not in str(failure.value) and token not in caplog.text
    for root in (RunDir(classify_run).path.parent.parent, tmp_path):
        for path in root.rglob("*"):
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path
