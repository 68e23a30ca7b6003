"""The real app on a local port, driven with gradio_client through the documented API names."""

import csv

import pytest
from conftest import wait_done
from gradio_client import Client

from ftlab import paths



@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_sample_chat_lora_run_then_base_and_tuned_reply_differently(client, tiny_llama):
    samples = {s["name"]: s for s in client.predict(api_name="/samples")}
    assert samples["pirate_chat"]["task"] == "chat"
    info = client.predict("pirate_chat", api_name="/inspect_data")
    assert info["ok"] and info["format"] == "messages"
    run_id = client.predict("chat", "pirate_chat", str(tiny_llama), "lora",
                            {"epochs": 1, "learning_rate": 5e-3}, api_name="/start_training")
    status = wait_done(client, run_id)
    assert status["state"] == "completed", status.get("error")
    losses = [m["train_loss"] for m in status["metrics"] if "train_loss" in m]
    assert len(losses) == status["total_steps"] and losses[-1] < losses[0]
    assert any(r["run_id"] == run_id and r["has_weights"] for r in client.predict(api_name="/runs"))
    greedy = client.predict(run_id, "Who are you?", "", 0.0, 0.9, 12, api_name="/chat")
    assert greedy["base"] and greedy["tuned"].strip() and greedy["base"] != greedy["tuned"]
    assert "Arr" in greedy["tuned"] and "Arr" not in greedy["base"]  # it learned the sample's pirate opening
    sampled = client.predict(run_id, "Tell me a story", "", 1.0, 1.0, 12, api_name="/chat")
    assert sampled["base"].strip() and sampled["tuned"].strip() and sampled["base"] != sampled["tuned"]


def test_sample_classification_run_beats_the_base_on_training_rows(client, tiny_bert):
    # A random tiny BERT has no features for LoRA to adapt, so it is fully fine-tuned here; LoRA on a classifier
    # is covered on the real bundled MiniLM in test_train.py.
    run_id = client.predict("classify", "sentiment", str(tiny_bert), "full",
                            {"epochs": 10, "learning_rate": 5e-3}, api_name="/start_training")
    status = wait_done(client, run_id)
    assert status["state"] == "completed", status.get("error")
    with open(paths.ASSETS / "samples" / "sentiment.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [r["text"] for r in rows]  # a request holds at most 64 texts (FTLAB_MAX_INPUTS)
    results = [x for i in range(0, len(texts), 64) for x in client.predict(run_id, texts[i:i + 64],
                                                                          api_name="/classify")]
    assert len(results) == len(rows)
    with pytest.raises(Exception, match="240 texts in one request; at most 64"):
        client.predict(run_id, texts, api_name="/classify")

    def accuracy(side):
        return sum(max(res[side], key=res[side].get) == row["label"] for res, row in zip(results, rows)) / len(rows)

    assert set(results[0]["tuned"]) == {"negative", "positive"}
    assert abs(sum(results[0]["tuned"].values()) - 1) < 1e-4
    assert accuracy("tuned") > accuracy("base") + 0.15, (accuracy("base"), accuracy("tuned"))


def test_a_second_start_waits_in_the_queue_and_can_be_cancelled(client, tiny_llama):
    first = client.predict("chat", "pirate_chat", str(tiny_llama), "lora", {"max_steps": 100000},
                           api_name="/start_training")
    second = client.predict("chat", "pirate_chat", str(tiny_llama), "lora", {"max_steps": 1},
                            api_name="/start_training")
    snap = client.predict(second, api_name="/status")
    assert snap["state"] == "queued" and snap["queue_position"] == 1
    assert client.predict(second, api_name="/cancel_training")
    assert client.predict(second, api_name="/status")["state"] == "cancelled"
    assert client.predict(first, api_name="/stop_training")
    assert wait_done(client, first)["state"] == "stopped"
    with pytest.raises(Exception, match="only a stopped, interrupted, failed run can be resumed"):
        client.predict(second, api_name="/resume_training")
    assert client.predict(first, api_name="/resume_training") == first
    assert client.predict(first, api_name="/stop_training")
    assert wait_done(client, first)["state"] in ("stopped", "cancelled")  # stopped before it got going


def test_bad_requests_get_clear_messages(client):
    with pytest.raises(Exception, match="no run nope"):
        client.predict("nope", "hi", api_name="/chat")
    info = client.predict("/definitely/missing.csv", api_name="/inspect_data")
    assert not info["ok"] and "no such file" in info["summary"]


def test_votes_through_the_api_train_a_preference_run_that_goes_on_from_the_voted_run(client, tiny_llama):
    """The loop, headless: a chat run, votes on its replies (/vote), a DPO run on them (/train_on_votes) that starts
    from the voted run's adapter, says so, and answers in Compare's chat like any run."""
    sft = client.predict("chat", "pirate_chat", str(tiny_llama), "lora", {"max_steps": 2, "learning_rate": 5e-3},
                         api_name="/start_training")
    assert wait_done(client, sft)["state"] == "completed"
    with pytest.raises(Exception, match="no decided votes yet"):
        client.predict(sft, None, api_name="/train_on_votes")
    for i, winner in enumerate(["tuned", "base", "tuned", "tie"]):
        prompt = [{"role": "user", "content": f"Question {i}?"}]
        client.predict(sft, prompt, f"A long and winding answer {i}, friend.", f"Answer {i}.", winner,
                       api_name="/vote")
    with pytest.raises(Exception, match="winner: 'maybe'"):
        client.predict(sft, [{"role": "user", "content": "?"}], "a", "b", "maybe", api_name="/vote")
    run_id = client.predict(sft, {"max_steps": 3, "learning_rate": 5e-3}, api_name="/train_on_votes")
    status = wait_done(client, run_id)
    assert status["state"] == "completed", status.get("error")
    assert status["start_from"] == sft and status["data_name"] == f"votes-of-{sft}-3.jsonl"  # the tie is no pair
    listed = {r["run_id"]: r for r in client.predict(api_name="/runs")}
    assert listed[run_id]["task"] == "preference" and listed[run_id]["has_weights"]
    reply = client.predict(run_id, "Who are you?", "", 0.0, 0.9, 8, api_name="/chat")
    before = client.predict(sft, "Who are you?", "", 0.0, 0.9, 8, api_name="/chat")
    assert reply["base"] == before["base"] and reply["tuned"]  # the same base, the preference run's own adapter
