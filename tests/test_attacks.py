"""Shared mode under attack, through real HTTP against running apps: each test is one way in that an attacker found
(forged session ids, another user's weights by folder, decompression bombs, settings past the budget, a full
queue, huge prompts and batches, a client that hangs up, requests that made 500s), and proves it stays closed.
Every error message on the way is checked for server paths."""

from __future__ import annotations

import gzip
import json
import os
import time
import uuid
import zipfile
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import TEST_HOME, launch_app, stop_app, wait_done
from gradio_client import Client

pytestmark = pytest.mark.slow
SECRET = "planted-secret-row-9931"
MESSAGES: list[str] = []
"""Every error message an attack got back: none may name a server path (the last test)."""


@pytest.fixture(scope="module")
def shared(tmp_path_factory, smol_dir, tiny_llama, tiny_bert):
    """A shared app with no API key, its bundled chat model already converted (linked from the test cache), the
    tiny models allowed as model folders (FTLAB_MODEL_DIRS), and a planted secret file outside any upload."""
    home = tmp_path_factory.mktemp("attacked-home")
    (home / "models").symlink_to(Path(TEST_HOME) / "models")
    secret = home / "secret.csv"
    secret.write_text(f"text,label\n{SECRET},a\nother,b\n")
    saved = {k: os.environ.pop(k, None) for k in ("FTLAB_API_KEY", "FTLAB_AUTH")}
    os.environ["FTLAB_SHARED"] = "1"
    try:
        proc, url = launch_app(home)
    finally:
        del os.environ["FTLAB_SHARED"]
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    yield url, proc, home, secret
    stop_app(proc)


@pytest.fixture(scope="module")
def alice(shared, tiny_bert):
    """Alice's session and her finished full fine-tune of a classifier (its weights are a model folder)."""
    url = shared[0]
    client = Client(url, verbose=False)
    run_id = client.predict("classify", "sentiment", str(tiny_bert), "full",
                            {"max_steps": 1, "eval.report_rows": 2}, api_name="/start_training")
    assert wait_done(client, run_id)["state"] == "completed"
    return client, run_id


def raw_call(url: str, api: str, data: list, session_hash) -> tuple[str, str]:
    """A Gradio API call made by hand, with the session id the caller chooses: (event, payload)."""
    body = json.dumps({"data": data, "session_hash": session_hash})  # NaN and Infinity as JavaScript writes them
    posted = httpx.post(f"{url}gradio_api/call/{api}", content=body, headers={"content-type": "application/json"},
                        timeout=30)
    if posted.status_code != 200:
        return "refused", posted.text
    event_id = posted.json()["event_id"]
    body = httpx.get(f"{url}gradio_api/call/{api}/{event_id}", timeout=60).text
    events = [line.removeprefix("event: ") for line in body.splitlines() if line.startswith("event: ")]
    payload = "\n".join(line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data: "))
    return (events[-1] if events else ""), payload


def refused(call) -> str:
    """The message of a gradio_client call that must fail."""
    with pytest.raises(Exception) as caught:
        call()
    MESSAGES.append(str(caught.value))
    return str(caught.value)


def v1(url: str, route: str, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    reply = httpx.post(f"{url}v1/{route}", content=content, headers={"content-type": "application/json"},
                       timeout=kwargs.pop("timeout", 120), **kwargs)
    if reply.status_code >= 400:
        MESSAGES.append(reply.text)
    return reply


# 1 - a forged session id makes nobody the operator ------------------------------------------------------------
@pytest.mark.parametrize("forged", ["\u0000operator", "../../x", "a" * 300, "\u0000"])
def test_a_forged_session_id_is_refused_and_sees_nothing(shared, alice, forged):
    url, _, _, secret = shared
    _, run_id = alice
    for api, data in (("runs", []), ("status", [run_id]), ("inspect_data", [str(secret), "", None, ""]),
                      ("delete_run", [run_id])):
        event, payload = raw_call(url, api, data, forged)
        assert event == "error" and "session id" in payload, (api, forged, payload)
        assert run_id not in payload and SECRET not in payload, (api, forged, payload)
        MESSAGES.append(payload)
    assert alice[0].predict(run_id, api_name="/status")["state"] == "completed"  # still there, still hers


# 2 - another user's weights by folder path ---------------------------------------------------------------------
def test_another_users_run_folder_is_no_model_and_missing_or_not_yours_read_the_same(shared, alice):
    url, _, home, _ = shared
    _, run_id = alice
    folder = home / "runs" / run_id / "model"
    assert (folder / "config.json").is_file()
    theirs = v1(url, "classify", {"model": str(folder), "inputs": ["great"]})
    missing = v1(url, "classify", {"model": str(home / "runs" / "20990101-000000-x" / "model"), "inputs": ["great"]})
    assert theirs.status_code == missing.status_code == 404 and "probabilities" not in theirs.text
    assert theirs.json()["error"] == missing.json()["error"]
    by_id, no_such = v1(url, "classify", {"model": run_id, "inputs": ["a"]}), \
        v1(url, "classify", {"model": "20990101-000000-classify-full", "inputs": ["a"]})
    assert by_id.status_code == no_such.status_code == 404
    assert by_id.json()["error"]["message"].replace(run_id, "X") == \
        no_such.json()["error"]["message"].replace("20990101-000000-classify-full", "X")
    mallory = Client(url, verbose=False)
    message = refused(lambda: mallory.predict("classify", "sentiment", str(folder), "full", {"max_steps": 1},
                                              api_name="/start_training"))
    assert "Hub id" in message and mallory.predict(api_name="/runs") == []


# 3 - decompression bombs ---------------------------------------------------------------------------------------
GIB = 2**30


def zeros(stream, total: int = GIB) -> None:
    block = bytes(2**24)
    for _ in range(total // len(block)):
        stream.write(block)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> tuple[Path, Path]:
    """A zip holding a 1 GiB 'adapter_model.safetensors' of zeros, and a .txt.gz of 1 GiB of text (both ~1 MB)."""
    folder = tmp_path_factory.mktemp("bombs")
    archive = folder / "adapter.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("adapter_config.json", json.dumps({"peft_type": "LORA", "task_type": "CAUSAL_LM",
                                                      "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct"}))
        with z.open("adapter_model.safetensors", "w", force_zip64=True) as member:
            zeros(member)
    text = folder / "reviews.txt.gz"
    with gzip.open(text, "wb", compresslevel=1) as out:
        line = b"a perfectly ordinary review of a film\n" * 1000
        for _ in range(GIB // len(line)):
            out.write(line)
    assert archive.stat().st_size < 3 * 2**20 and text.stat().st_size < 8 * 2**20
    return archive, text


def upload(url: str, path: Path) -> str:
    reply = httpx.post(f"{url}gradio_api/upload", files={"files": path.open("rb")}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()[0]


def test_a_zip_bomb_adapter_is_refused_without_unpacking_it(shared, bombs):
    url, proc, home, _ = shared
    server = psutil.Process(proc.pid)
    before, runs_before = server.memory_info().rss, set(os.listdir(home / "runs"))
    message = refused(lambda: Client(url, verbose=False).predict(upload(url, bombs[0]), "",
                                                                 api_name="/import_adapter"))
    assert "not a safetensors file" in message
    assert set(os.listdir(home / "runs")) == runs_before  # nothing imported
    assert server.memory_info().rss - before < 200 * 2**20


def test_a_gzip_bomb_dataset_is_refused_at_the_size_limit(app_server, bombs):
    url, proc = app_server  # a local app: it reads any path, so the upload can be inspected by its path
    server = psutil.Process(proc.pid)
    before = server.memory_info().rss
    result = Client(url, verbose=False).predict(upload(url, bombs[1]), "", None, "", api_name="/inspect_data")
    assert not result["ok"] and "unpacks to more than 200 MB; the limit is 200 MB" in result["summary"]
    assert server.memory_info().rss - before < 400 * 2**20


# 4 - settings past the budget, and numbers that aren't -------------------------------------------------------
@pytest.mark.parametrize("settings, field", [
    ({"time_limit_min": float("nan")}, "train.time_limit_min: nan must be a finite number"),
    ({"time_limit_min": float("inf")}, "train.time_limit_min: inf must be a finite number"),
    ({"train.__dict__": {"max_steps": 5000}}, "unknown setting 'train.__dict__'"),
    ({"__class__": 1}, "unknown setting '__class__'"),
    ({"max_steps": 1e300}, "train.max_steps: '1e+300' is not a whole number"),
    ({"seed": 2**70}, "train.seed: 1180591620717411303424 must be between 0 and 4294967295"),
    ({"batch_size": 2.5}, "train.batch_size: '2.5' is not a whole number"),
    ({"gradient_checkpointing": "false"}, "train.gradient_checkpointing: 'false' is not true or false"),
])
def test_settings_are_declared_fields_with_finite_in_range_values(shared, settings, field):
    session = str(uuid.uuid4())
    event, message = raw_call(shared[0], "start_training", ["chat", "pirate_chat", "", "lora", settings], session)
    MESSAGES.append(message)
    assert event == "error" and field in message, message
    assert raw_call(shared[0], "runs", [], session) == ("complete", "[[]]")


# 5 - one session can't fill the queue --------------------------------------------------------------------------
def test_one_session_queues_at_most_two_waiting_runs_and_others_still_can(shared, alice, tiny_llama):
    url = shared[0]
    carol, dave = Client(url, verbose=False), Client(url, verbose=False)
    start = lambda who, steps: who.predict("chat", "pirate_chat", str(tiny_llama), "lora",  # noqa: E731
                                           {"max_steps": steps}, api_name="/start_training")
    first = start(carol, 300)
    started = []
    try:
        deadline = time.time() + 120
        while carol.predict(first, api_name="/status")["state"] != "running" and time.time() < deadline:
            time.sleep(0.5)
        started = [start(carol, 1), start(carol, 1)]
        message = refused(lambda: start(carol, 1))
        assert "you already have 2 runs waiting" in message
        started.append(start(dave, 1))  # somebody else is not locked out
    finally:
        for who, run_id in [(carol, first)] + [(carol, r) for r in started[:2]] + [(dave, r) for r in started[2:]]:
            who.predict(run_id, api_name="/cancel_training")


# 6 - prompts and batches are capped ----------------------------------------------------------------------------
def test_a_prompt_over_the_context_and_too_many_inputs_are_refused_in_openais_shape(shared):
    url = shared[0]
    words = " ".join(f"word{i}" for i in range(8000))
    long = v1(url, "chat/completions", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct",
                                        "messages": [{"role": "user", "content": words}], "max_tokens": 4})
    assert long.status_code == 400 and long.json()["error"]["code"] == "context_length_exceeded"
    many = v1(url, "classify", {"model": "sentence-transformers/all-MiniLM-L6-v2", "inputs": ["x " * 400] * 300})
    assert many.status_code == 413 and many.json()["error"]["code"] == "too_many_inputs"
    assert "at most 64" in many.json()["error"]["message"]


# 7 - a client that hangs up stops the generation ---------------------------------------------------------------
def test_a_non_streaming_request_stops_generating_when_its_client_disconnects(shared):
    url, proc, _, _ = shared
    server = psutil.Process(proc.pid)
    body = {"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "temperature": 0, "max_tokens": 4096,
            "messages": [{"role": "user", "content": "Count from 1 to 5000, one number per line."}]}
    v1(url, "chat/completions", {**body, "max_tokens": 2})  # the model is loaded before the clock starts
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{url}v1/chat/completions", json=body, timeout=3)
    time.sleep(1)
    used = sum(server.cpu_times()[:2])
    time.sleep(5)
    spent = sum(server.cpu_times()[:2]) - used
    assert spent < 1.5, f"{spent:.1f} CPU-s in 5 s after the client left: still generating"


# 8 - 400s, not 500s --------------------------------------------------------------------------------------------
SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.parametrize("body, field", [
    ('{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}' % SMOL, "temperature"),
    ('{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "top_p": NaN}' % SMOL, "top_p"),
    ('{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "temperature": 1e400}' % SMOL, "temperature"),
    ('{"model": "%s", "messages": "hi"}' % SMOL, "messages"),
    ('{"messages": [{"role": "user", "content": "hi"}]}', "model"),
    ('not json', ""),
])
def test_bad_bodies_are_400s_in_openais_shape(shared, body, field):
    reply = v1(shared[0], "chat/completions", body)
    assert reply.status_code == 400 and field in reply.json()["error"]["message"], reply.text


def test_tiny_temperatures_long_ids_and_content_lists_are_answered_not_500s(shared):
    url = shared[0]
    hi = [{"role": "user", "content": "hi"}]
    tiny = v1(url, "chat/completions", {"model": SMOL, "messages": hi, "temperature": 1e-300, "max_tokens": 3})
    greedy = v1(url, "chat/completions", {"model": SMOL, "messages": hi, "temperature": 0, "max_tokens": 3})
    assert tiny.status_code == 200 and tiny.json()["choices"][0]["message"] == greedy.json()["choices"][0]["message"]
    long_id = v1(url, "chat/completions", {"model": "m" * 5000, "messages": hi})
    assert long_id.status_code == 400 and "model" in long_id.json()["error"]["message"]
    parts = v1(url, "chat/completions", {"model": SMOL, "max_tokens": 3, "temperature": 0, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "h"}, {"type": "text", "text": "i"}]}]})
    assert parts.status_code == 200 and parts.json()["choices"][0]["message"] == greedy.json()["choices"][0]["message"]


# every message above ---------------------------------------------------------------------------------------------
def test_no_error_message_names_a_server_path(shared, tmp_path):
    url, _, home, _ = shared
    client = Client(url, verbose=False)
    MESSAGES.append(refused(lambda: client.predict("no-such-run", api_name="/status")))
    MESSAGES.append(v1(url, "chat/completions", {"model": "no/such-model", "messages": [
        {"role": "user", "content": "hi"}]}).text)
    MESSAGES.append(str(client.predict(str(home / "nothing.csv"), "", None, "", api_name="/inspect_data")))
    assert len(MESSAGES) > 30
    leaks = [m for m in MESSAGES if str(home) in m or TEST_HOME in m or "/tmp/" in m or "/root/" in m
             or str(Path.home()) + "/" in m]
    assert not leaks, leaks[:3]
