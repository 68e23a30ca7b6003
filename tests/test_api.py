"""The OpenAI-compatible API of the running app, called with the official `openai` client and httpx: models list,
chat (streamed and not, stop strings), classification, the API key, 16 concurrent requests. Every answer is
checked against the same model run directly in this process (greedy decoding, so they must match exactly)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from conftest import launch_app, stop_app

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.serve.generation import GenConfig
from ftlab.serve.model_server import ModelServer
from ftlab.runs.run_dir import RunDir

KEY = "test-key-123"
PROMPTS = [f"Tell me about ship number {i}." for i in range(16)]


def trained(task: str, model, data: str) -> str:
    cfg = RunConfig(task=task, model=str(model), method="lora")
    cfg.data.path = data
    cfg.train.max_steps, cfg.train.learning_rate = 3, 5e-3
    cfg.eval.generate_rows, cfg.eval.report_rows = 0, 2
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_llama, tiny_bert):
    """(url, chat run id, classify run id, a ModelServer on the same runs) with FTLAB_API_KEY set."""
    home = tmp_path_factory.mktemp("api-home")
    saved = {k: os.environ.get(k) for k in ("FTLAB_HOME", "FTLAB_API_KEY", "FTLAB_TRAINING_RESERVE_MB")}
    # While a run trains, inference may load nothing new (a reserve larger than any machine's memory).
    os.environ.update(FTLAB_HOME=str(home), FTLAB_API_KEY=KEY, FTLAB_TRAINING_RESERVE_MB=str(10**9))
    try:
        chat_run, classify_run = trained("chat", tiny_llama, "pirate_chat"), trained("classify", tiny_bert, "sentiment")
        proc, url = launch_app(home)
        yield url, chat_run, classify_run, ModelServer()
        stop_app(proc)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}v1", api_key=key, max_retries=0, timeout=120)


def expected(server: ModelServer, model: str, prompt: str, max_tokens: int = 16, stop=None) -> tuple[str, str]:
    parts, finish = [], None
    for text, done in server.complete(model, [{"role": "user", "content": prompt}],
                                      GenConfig(max_new_tokens=max_tokens, temperature=0), stop):
        parts.append(text)
        finish = done or finish
    return "".join(parts), finish


def ask(c: openai.OpenAI, model: str, prompt: str, **options):
    return c.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], temperature=0,
                                     max_tokens=16, **options)


def test_models_list_names_trained_runs_and_base_models(served):
    url, chat_run, classify_run, _ = served
    ids = {m.id for m in client(url).models.list().data}
    assert {chat_run, classify_run, "HuggingFaceTB/SmolLM2-135M-Instruct"} <= ids


def test_chat_completion_matches_the_model_run_directly(served):
    url, chat_run, _, server = served
    reply = ask(client(url), chat_run, PROMPTS[0])
    text, finish = expected(server, chat_run, PROMPTS[0])
    assert reply.choices[0].message.content == text and text
    assert reply.choices[0].finish_reason == finish
    assert reply.model == chat_run


def test_streaming_sends_the_reply_in_pieces_that_add_up(served):
    url, chat_run, _, server = served
    chunks = list(ask(client(url), chat_run, PROMPTS[1], stream=True))
    pieces = [c.choices[0].delta.content or "" for c in chunks]
    assert sum(1 for p in pieces if p) > 1
    assert "".join(pieces) == expected(server, chat_run, PROMPTS[1])[0]
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_a_stop_string_cuts_the_reply_before_it(served):
    url, chat_run, _, server = served
    full, _ = expected(server, chat_run, PROMPTS[2])
    stop = full[len(full) // 2:][:3]
    reply = ask(client(url), chat_run, PROMPTS[2], stop=[stop])
    assert reply.choices[0].message.content == full[: full.index(stop)]
    assert reply.choices[0].finish_reason == "stop"


def test_a_base_model_answers_by_its_id_and_an_unknown_model_is_404(served, tiny_llama):
    url, _, _, server = served
    assert ask(client(url), str(tiny_llama), PROMPTS[3]).choices[0].message.content == \
        expected(server, str(tiny_llama), PROMPTS[3])[0]
    with pytest.raises(openai.NotFoundError, match="does not exist or you do not have access to it"):
        ask(client(url), "no-such/model-anywhere", PROMPTS[3])


def test_calls_without_the_right_key_get_401(served):
    url, chat_run, _, _ = served
    with pytest.raises(openai.AuthenticationError):
        client(url, "wrong-key").models.list()
    bare = httpx.post(f"{url}v1/chat/completions", json={"model": chat_run, "messages": []})
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "invalid_api_key"


def test_sixteen_concurrent_chats_all_complete_with_their_own_answers(served):
    url, chat_run, _, server = served
    c = client(url)
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda p: ask(c, chat_run, p).choices[0].message.content, PROMPTS))
    assert replies == [expected(server, chat_run, p)[0] for p in PROMPTS]


def test_classify_returns_a_label_and_probabilities_per_input(served):
    url, _, classify_run, server = served
    inputs = ["I loved every minute of it.", "Cold food and rude staff."]
    got = httpx.post(f"{url}v1/classify", json={"model": classify_run, "inputs": inputs},
                     headers={"Authorization": f"Bearer {KEY}"}, timeout=120).json()
    want = server.predict(classify_run, inputs)
    assert [d["label"] for d in got["data"]] == [w["label"] for w in want]
    for d, w in zip(got["data"], want):
        assert set(d["probabilities"]) == {"negative", "positive"}
        assert sum(d["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        assert d["probabilities"] == pytest.approx(w["probabilities"], abs=1e-5)


def test_during_training_a_model_not_loaded_gets_503_with_retry_after_and_loaded_ones_answer(served, tiny_llama,
                                                                                            tiny_bert):
    from gradio_client import Client

    url, chat_run, _, server = served
    ask(client(url), chat_run, PROMPTS[4])  # loaded before the run starts
    app = Client(url, verbose=False)
    run_id = app.predict("chat", "pirate_chat", str(tiny_llama), "lora", {"max_steps": 100000},
                         api_name="/start_training")
    try:
        while app.predict(run_id, api_name="/status")["state"] == "queued":
            time.sleep(0.5)
        busy = httpx.post(f"{url}v1/classify", json={"model": str(tiny_bert), "inputs": ["fine"]},
                          headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 10
        assert busy.json()["error"]["code"] == "busy"
        assert f"Run {run_id} is training" in busy.json()["error"]["message"]
        assert ask(client(url), chat_run, PROMPTS[4]).choices[0].message.content == \
            expected(server, chat_run, PROMPTS[4])[0]
    finally:
        app.predict(run_id, api_name="/cancel_training")


@pytest.mark.slow  # trains a preference run
def test_a_preference_run_is_served_like_a_chat_run(served, tiny_llama):
    """A preference-tuned model answers through /v1/chat/completions as it answers directly."""
    url, _, _, server = served
    cfg = RunConfig(task="preference", model=str(tiny_llama), method="lora")
    cfg.data.path, cfg.data.max_rows = "concise_pairs", 16
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.max_length = 2, 5e-3, 128
    cfg.eval.generate_rows, cfg.eval.report_rows = 0, 2
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    assert run.id in {m.id for m in client(url).models.list().data}
    reply = ask(client(url), run.id, PROMPTS[1])
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == expected(server, run.id, PROMPTS[1])


@pytest.mark.slow  # exports the run as GGUF
def test_a_gguf_export_is_listed_and_streams_through_the_api(served):
    """`<run>:gguf-q8_0` after the run is exported: listed in /v1/models, answered by llama.cpp as the server does."""
    from ftlab.deploy import gguf_export

    url, chat_run, _, server = served
    gguf_export.build_gguf(chat_run, "q8_0")
    model = f"{chat_run}:gguf-q8_0"
    assert model in {m.id for m in client(url).models.list().data}
    parts = [c.choices[0].delta.content or "" for c in ask(client(url), model, PROMPTS[2], stream=True)]
    assert "".join(parts) == expected(server, model, PROMPTS[2])[0]
    with pytest.raises(openai.NotFoundError, match="no export 'gguf-f16'"):
        ask(client(url), f"{chat_run}:gguf-f16", PROMPTS[2])


@pytest.mark.slow  # exports the run as GGUF
def test_an_export_downloads_as_a_zip_through_the_api(served, tmp_path):
    import zipfile

    url, chat_run, classify_run, _ = served
    headers = {"Authorization": f"Bearer {KEY}"}
    got = httpx.get(f"{url}v1/exports/{chat_run}/gguf-q8_0", headers=headers, timeout=600)
    assert got.status_code == 200, got.text
    (tmp_path / "a.zip").write_bytes(got.content)
    assert {f"{chat_run}-q8_0.gguf", "Modelfile", "README.md"} == set(zipfile.ZipFile(tmp_path / "a.zip").namelist())
    wrong = httpx.get(f"{url}v1/exports/{classify_run}/gguf-q8_0", headers=headers, timeout=60)
    assert wrong.status_code == 400 and "exports as safetensors, onnx" in wrong.json()["error"]["message"]
    assert httpx.get(f"{url}v1/exports/{chat_run}/gguf-q8_0", timeout=60).status_code == 401


@pytest.mark.slow  # exports the classifier as ONNX
def test_an_exported_onnx_classifier_answers_v1_classify(served):
    from ftlab.deploy import onnx_export

    url, _, classify_run, server = served
    onnx_export.export_onnx(classify_run)
    inputs = ["I loved every minute of it.", "Cold food and rude staff."]
    want = server.predict(classify_run, inputs)
    for kind in ("onnx", "onnx-int8"):
        got = httpx.post(f"{url}v1/classify", json={"model": f"{classify_run}:{kind}", "inputs": inputs},
                         headers={"Authorization": f"Bearer {KEY}"}, timeout=120).json()
        for d, w in zip(got["data"], want):
            assert d["probabilities"] == pytest.approx(w["probabilities"], abs=1e-4 if kind == "onnx" else 0.05)
