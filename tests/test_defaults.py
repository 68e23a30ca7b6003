"""The settings a run starts with fit its data, method and model (ftlab.train.defaults), and the Lab explains them."""

import pytest

from ftlab.train import defaults
from ftlab.train.defaults import Facts


def chosen(**facts) -> dict:
    return {c.key: c.value for c in defaults.choose(Facts(**facts))}


def test_a_few_dozen_rows_get_epochs_enough_to_learn_and_early_stopping_guards_them():
    small = chosen(task="chat", method="lora", rows=72, val_rows=8, params=135_000_000)
    steps = small["epochs"] * -(-72 // small["batch_size"])
    assert small["epochs"] > 3 and steps >= 150  # the old fixed 3 epochs were 54 steps
    assert small["early_stopping_patience"] == 2 and small["early_stopping_metric"] == "eval_loss"
    assert small["eval_every"] == -(-72 // small["batch_size"])  # one evaluation per epoch


def test_large_data_gets_fewer_epochs_than_small_data():
    large = chosen(task="chat", method="lora", rows=50_000, val_rows=500, params=135_000_000)
    medium = chosen(task="chat", method="lora", rows=2_000, val_rows=200, params=135_000_000)
    small = chosen(task="chat", method="lora", rows=500, val_rows=50, params=135_000_000)
    assert large["epochs"] == 1 < medium["epochs"] == 2 < small["epochs"]
    assert large["early_stopping_patience"] == 0  # one epoch: nothing to stop early


def test_without_validation_rows_there_is_no_early_stopping():
    assert chosen(task="chat", method="lora", rows=72, val_rows=0)["early_stopping_patience"] == 0


def test_very_few_rows_get_a_smaller_batch_so_an_epoch_has_steps():
    assert chosen(task="classify", method="lora", rows=40)["batch_size"] == 5
    assert chosen(task="classify", method="lora", rows=4000)["batch_size"] == 16


@pytest.mark.parametrize("task", ["chat", "classify", "preference"])
def test_the_learning_rate_depends_on_the_method_by_orders_of_magnitude(task):
    lr = {m: chosen(task=task, method=m, rows=1000, params=2_000_000_000)["learning_rate"]
          for m in ("full", "lora", "dora", "ia3", "prompt")}
    assert lr["full"] * 5 <= lr["lora"] == lr["dora"] and lr["lora"] * 5 <= lr["ia3"] < lr["prompt"]


def test_a_classification_head_and_a_small_model_take_larger_steps():
    assert chosen(task="classify", method="lora", rows=1000)["learning_rate"] > \
        chosen(task="chat", method="lora", rows=1000)["learning_rate"]
    for method in ("full", "lora", "dora"):
        assert chosen(task="chat", method=method, rows=1000, params=100_000_000)["learning_rate"] == pytest.approx(
            2.5 * chosen(task="chat", method=method, rows=1000, params=7_000_000_000)["learning_rate"])
    # prompt learning's rates are not scaled (not measured on a small model); an unknown size is not a small one
    assert chosen(task="chat", method="prompt", rows=1000, params=100_000_000)["learning_rate"] == \
        chosen(task="chat", method="prompt", rows=1000, params=7_000_000_000)["learning_rate"]
    assert chosen(task="classify", method="lora", rows=1000, params=22_000_000)["learning_rate"] == 1.3e-3  # MiniLM
    assert chosen(task="chat", method="lora", rows=1000)["learning_rate"] == 2e-4  # the size unknown


def test_a_classifier_head_starts_as_a_linear_probe_and_a_chat_run_has_no_such_setting():
    assert chosen(task="classify", method="lora", rows=2000, params=22_000_000)["classify.head_init"] == "probe"
    assert "classify.head_init" not in chosen(task="chat", method="lora", rows=2000, params=135_000_000)


def test_lora_rank_grows_with_the_model_and_alpha_is_twice_it():
    ranks = [chosen(task="chat", method="lora", rows=1000, params=p) for p in (135e6, 1.5e9, 8e9)]
    assert [c["lora.r"] for c in ranks] == [8, 16, 32]
    assert all(c["lora.alpha"] == 2 * c["lora.r"] for c in ranks)
    assert "lora.r" not in chosen(task="chat", method="full", rows=1000)


def test_max_length_covers_most_rows_and_cuts_few():
    lengths = [40] * 95 + [900] * 5
    c = chosen(task="chat", method="lora", rows=100, lengths=lengths)
    assert c["max_length"] == 64  # 95 % of rows are 40 tokens: no padding to 256 for them
    assert chosen(task="chat", method="lora", rows=100, lengths=[3000] * 100)["max_length"] == 1024  # capped


def test_every_choice_has_a_reason_with_its_code():
    for c in defaults.choose(Facts("chat", "lora", 72, 8, 135_000_000, [50] * 72)):
        assert c.why.code and str(c.why)


def test_lab_suggest_reads_the_data_and_the_model(tiny_llama):
    from ftlab.app.lab import Lab

    found = Lab().suggest("chat", "pirate_chat", str(tiny_llama), "lora")
    assert found["facts"]["rows"] == 144 and found["facts"]["val_rows"] == 16
    assert 0 < found["facts"]["params"] < 10_000_000 and found["facts"]["tokens"] > 144 * 20
    assert found["settings"]["lora.r"] == 8 and found["settings"]["epochs"] == 5.0
    assert {w["key"] for w in found["why"]} >= {"learning_rate", "epochs", "batch_size", "max_length", "lora.r"}


def test_a_model_not_on_this_machine_gets_the_middle_rank_and_says_why():
    choice = next(c for c in defaults.choose(Facts("chat", "lora", 1000)) if c.key == "lora.r")
    assert choice.value == 16 and choice.why.code == "rank_unknown" and "not on this machine" in choice.why


def test_large_data_counts_the_tokens_of_a_sample_and_says_so(tmp_path, tiny_llama):
    import dataclasses
    import json
    import random

    from ftlab import data
    from ftlab.app.lab import Lab
    from ftlab.config import DataConfig
    from ftlab.data import insight

    rng = random.Random(0)
    words = "ship sail sea storm captain harbor rope wind wave gold map island parrot".split()
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        for i in range(3000):  # 1 row in 40 is ten times longer than the others
            answer = " ".join(rng.choices(words, k=300 if i % 40 == 0 else rng.randint(10, 30)))
            f.write(json.dumps({"messages": [{"role": "user", "content": f"question {i}"},
                                             {"role": "assistant", "content": answer}]}) + "\n")
    found = Lab().suggest("chat", str(path), str(tiny_llama), "lora")
    why = next(w for w in found["why"] if w["key"] == "max_length")
    assert why["code"] == "max_length_sampled" and why["fields"]["sample"] == "2,000"
    splits = data.load_splits(DataConfig(path=str(path)), 42)
    every = insight.token_lengths(dataclasses.replace(splits.dataset, rows=splits.train),
                                  insight.tokenizer(str(tiny_llama)))
    whole = defaults.max_length(Facts("chat", "lora", len(every), lengths=every))
    assert found["settings"]["max_length"] == whole.value  # the sample's 95th percentile is the whole's
    assert abs(found["facts"]["tokens"] - sum(every)) < 0.05 * sum(every)
    assert int(why["fields"]["cut"].replace(",", "")) == pytest.approx(whole.why.fields["cut"], abs=40)


def test_start_takes_a_suggestion_still_on_its_way_into_the_fields_not_typed_into(tiny_llama):
    """Start clicked a moment after picking data: the page's fields still hold the last suggestion's values (or the
    task's), and Start trains what the page is about to show."""
    from ftlab.app.lab import Lab
    from ftlab.app.ui import model_tab

    lab, keys = Lab(), ["epochs", "learning_rate", "batch_size", "max_length", "lora.r", "max_steps"]
    found = lab.suggest("chat", "pirate_chat", str(tiny_llama), "lora")["settings"]
    stale = ["chat", str(tiny_llama), "lora", 1.0, 0.5, 64, 32, 2, 7]
    given = model_tab.settled(lab, keys, "pirate_chat", None, stale, ["learning_rate"], None)
    assert given[:3] == stale[:3] and given[4] == 0.5  # the task, model, method and what was typed stay
    assert given[3] == found["epochs"] != 1.0 and given[6] == found["max_length"] and given[7] == found["lora.r"]
    assert given[5] == found["batch_size"] and given[8] == 7  # a setting no suggestion fills stays
    asked = ["pirate_chat", None, "chat", str(tiny_llama), "lora"]
    assert model_tab.settled(lab, keys, "pirate_chat", None, stale, [], asked) == stale  # it had landed: as given
