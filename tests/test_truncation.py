"""One truncation rule for a classifier: training, evaluation and serving all cut a text where the run's
train.max_length cuts it (they used to evaluate and serve at 512 tokens what was trained at 128)."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch

from ftlab import tasks
from ftlab.app.lab import Lab
from ftlab.config import RunConfig
from ftlab.data import encode
from ftlab.runs.run_dir import RunDir
from ftlab.serve.model_server import load_pair
from ftlab.train import engine

LONG = "the food was " + "really " * 60 + "awful"  # past 16 tokens: the word that decides comes after the cut
MAX = 16


@pytest.fixture(scope="module")
def short_run(tiny_bert) -> str:
    cfg = RunConfig(task="classify", model=str(tiny_bert), method="lora")
    cfg.data.path = "sentiment"
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.max_length = 2, 5e-3, MAX
    cfg.train.precision = "fp32"
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


def as_trained(model, tok, text: str) -> torch.Tensor:
    """The model's probabilities on the ids training would have given it (encode_classification)."""
    ids = encode.encode_classification(tok, text, 0, MAX)["input_ids"]
    assert len(ids) == MAX
    with torch.no_grad():
        return torch.softmax(model(input_ids=torch.tensor([ids])).logits.float(), -1)[0]


def test_evaluation_and_serving_read_a_long_text_as_training_did(short_run):
    pair, cfg, classify = load_pair(short_run, "classify"), RunDir(short_run).config(), tasks.get("classify")
    assert pair.max_length == MAX
    with pair.tuned_context():
        trained = as_trained(pair.tuned, pair.tokenizer, LONG)
        label, p = classify.answer(pair.tuned, pair.tokenizer, [(LONG, None)], cfg, "cpu", nullcontext)[0]
        cfg.train.max_length = 512
        cut_at_512 = classify.answer(pair.tuned, pair.tokenizer, [(LONG, None)], cfg, "cpu", nullcontext)[0]
    assert (label, p) == (int(trained.argmax()), pytest.approx(float(trained.max()), abs=1e-5))
    assert cut_at_512[1] != pytest.approx(p, abs=1e-5)  # the rule matters: the whole text scores otherwise
    served = Lab().classify(short_run, [LONG])[0]["tuned"]
    assert sorted(served.values()) == pytest.approx(sorted(trained.tolist()), abs=1e-5)
