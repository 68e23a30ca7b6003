"""Shared mode: each session owns its runs and uploads. Another session can't list, read, stop, resume, export or
chat with them, nor read files on the server that it did not upload; every run keeps to the step and time
budget; a session's uploads go when it ends. In process (the Lab, with the caller set as the app sets it) and
through the running app with two gradio_client sessions."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import launch_app, stop_app, wait_done
from gradio_client import Client

from ftlab.app import owners
from ftlab.runs.run_dir import RunDir
from ftlab.app.lab import Lab, gradio_temp_dir


def as_(who):
    owners.acting_as(who)


def start(lab: Lab, model, **settings) -> str:
    cfg = lab.build_config("chat", "pirate_chat", str(model), "lora", learning_rate=5e-3,
                           **{"eval.generate_rows": 0, "eval.report_rows": 2, **settings})
    return lab.start(cfg.to_dict())


@pytest.fixture(scope="module")
def alice_run(tiny_llama):
    lab = Lab(shared=True)
    as_("alice-session")
    run_id = start(lab, tiny_llama, max_steps=2)
    assert lab.jobs.wait(run_id, 300)["state"] == "completed"
    return lab, run_id


def test_another_session_cannot_see_or_touch_a_run(alice_run):
    lab, run_id = alice_run
    as_("alice-session")
    assert [r["run_id"] for r in lab.runs()] == [run_id] and lab.current_run() == run_id  # the others' are hidden
    assert lab.status(run_id)["state"] == "completed" and lab.report(run_id)
    as_("bob-session")
    assert lab.runs() == [] and lab.current_run() is None
    for call in (lab.status, lab.stop, lab.cancel, lab.resume, lab.delete, lab.report, lab.export_zip, lab.probe_answers,
                 lab.run_config, lab.preference_pairs_jsonl, lambda r: lab.chat(r, "hi"),
                 lambda r: list(lab.chat_stream(r, [], [])),
                 lambda r: lab.chat("", "hi", against=r),  # nor put it next to one's own in Compare
                 lambda r: list(lab.chat_stream("", [], [], against=r))):
        with pytest.raises(ValueError, match=f"no run {run_id}"):
            call(run_id)
    as_(None)  # a caller with no session (the /v1 API without a key) sees no run either
    assert lab.runs() == []
    as_(owners.OPERATOR)  # the operator (the /v1 API with its key) sees every run of the server
    assert run_id in [r["run_id"] for r in lab.runs()]
    as_("alice-session")  # the owner deletes it, and it is gone for good
    lab.delete(run_id)
    assert lab.runs() == [] and not RunDir(run_id).path.exists()


def test_only_samples_and_ones_own_uploads_are_read(alice_run, tmp_path):
    lab, _ = alice_run
    as_("bob-session")
    for path in ("/etc/passwd", str(Path(__file__)), str(tmp_path)):
        result = lab.inspect(path)
        assert not result["ok"] and "upload the file first" in result["summary"]
    assert lab.inspect("sentiment")["ok"]
    cfg = lab.build_config("classify", "/etc/hosts")
    with pytest.raises(ValueError, match="upload the file first"):
        lab.start(cfg.to_dict())
    with pytest.raises(ValueError, match="not an upload"):
        lab.keep_upload("/etc/hosts")
    remote = lab.build_config("chat", "pirate_chat", trust_remote_code=True)
    with pytest.raises(ValueError, match="trust_remote_code is off on this shared server"):
        lab.start(remote.to_dict())


def test_an_upload_is_kept_for_its_session_alone_and_goes_when_the_session_ends(alice_run):
    lab, _ = alice_run
    temp = gradio_temp_dir() / f"ftlab-test-{os.getpid()}" / "reviews.csv"
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_text("text,label\ngreat,positive\nawful,negative\nfine,positive\nbad,negative\n")
    as_("carol-session")
    kept = lab.keep_upload(str(temp))
    assert not temp.exists()  # the web server's copy is gone: its URL serves nothing
    assert lab.inspect(kept)["ok"]
    as_("bob-session")
    assert "upload the file first" in lab.inspect(kept)["summary"]
    as_("carol-session")
    made = lab.scratch_dir("ftlab-export-")  # where her zips and CSV downloads are written
    lab.end_session("carol-session")
    assert not Path(kept).exists() and not made.exists()


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_every_run_keeps_to_the_step_and_time_budget(tiny_llama):
    as_("dave-session")
    lab = Lab(shared=True, limits={"steps": 3})
    capped = start(lab, tiny_llama, epochs=50)
    done = lab.jobs.wait(capped, 300)
    assert done["state"] == "completed" and done["total_steps"] == 3
    assert lab.run_config(capped)["train"]["step_limit"] == 3
    slow = Lab(shared=True, limits={"minutes": 0.001})  # 60 ms: over after the first step
    stopped = slow.jobs.wait(start(slow, tiny_llama, max_steps=200), 300)
    assert stopped["state"] == "stopped" and stopped["step"] < 200
    assert "time limit" in stopped.get("note", "") + stopped.get("error", "")


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory, tiny_llama, tiny_bert):  # the tiny models first: the app reads FTLAB_MODEL_DIRS
    home = tmp_path_factory.mktemp("shared-home")
    os.environ["FTLAB_SHARED"] = "1"
    try:
        proc, url = launch_app(home)
    finally:
        del os.environ["FTLAB_SHARED"]
    yield url, proc
    stop_app(proc)


def test_two_sessions_of_the_running_app_see_only_their_own_runs(shared_app, tiny_llama):
    url, _ = shared_app
    a, b = Client(url, verbose=False), Client(url, verbose=False)
    run_id = a.predict("chat", "pirate_chat", str(tiny_llama), "lora", {"max_steps": 2000},
                       api_name="/start_training")
    try:
        assert run_id in [r["run_id"] for r in a.predict(api_name="/runs")]
        assert b.predict(api_name="/runs") == []
        for endpoint in ("/status", "/stop_training", "/cancel_training", "/resume_training", "/delete_run"):
            with pytest.raises(Exception, match=f"no run {run_id}"):
                b.predict(run_id, api_name=endpoint)
        assert a.predict(run_id, api_name="/status")["state"] in ("queued", "running")
        with pytest.raises(Exception, match="stop or cancel it first"):  # not even its owner deletes a live run
            a.predict(run_id, api_name="/delete_run")
    finally:
        a.predict(run_id, api_name="/cancel_training")
    deadline = time.time() + 60
    while a.predict(run_id, api_name="/status")["state"] not in ("cancelled", "failed") and time.time() < deadline:
        time.sleep(0.5)


def test_soak_fifty_mixed_requests_while_a_run_trains(shared_app, tiny_llama, tiny_bert):
    """Chat, classification and status polling while a run trains: no errors, the run completes, and the server's
    memory ends near where it started."""
    import psutil

    url, proc = shared_app
    me = Client(url, verbose=False)
    settings = {"max_steps": 2, "eval.generate_rows": 0, "eval.report_rows": 2, "learning_rate": 5e-3,
                "precision": "fp32"}  # bf16 on a CPU with bf16 units keeps ~400 MB more (see the note in RESULTS)
    chat_run = me.predict("chat", "pirate_chat", str(tiny_llama), "lora", settings, api_name="/start_training")
    classify_run = me.predict("classify", "sentiment", str(tiny_bert), "lora", settings, api_name="/start_training")
    assert wait_done(me, classify_run)["state"] == "completed" and wait_done(me, chat_run)["state"] == "completed"
    me.predict(chat_run, "Ahoy", "", 0.0, 0.9, 8, api_name="/chat")  # models loaded before the baseline
    me.predict(classify_run, ["fine"], api_name="/classify")
    server = psutil.Process(proc.pid)
    before = server.memory_info().rss
    training = me.predict("chat", "pirate_chat", str(tiny_llama), "lora", {**settings, "max_steps": 40},
                          api_name="/start_training")
    calls = ([lambda i=i: me.predict(chat_run, f"Tell me about ship {i}", "", 0.0, 0.9, 8, api_name="/chat")
              for i in range(20)]
             + [lambda i=i: me.predict(classify_run, [f"review number {i} was great"], api_name="/classify")
                for i in range(15)]
             + [lambda: me.predict(training, api_name="/status") for _ in range(15)])
    calls = [calls[i] for i in sorted(range(len(calls)), key=lambda i: (i * 7) % len(calls))]  # mixed
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda call: call(), calls))
    assert len(results) == 50 and all(r is not None for r in results)
    assert all(set(r) >= {"base", "tuned"} for r in results if isinstance(r, dict) and "base" in r)
    assert wait_done(me, training)["state"] == "completed"
    after = settled_rss(server)
    print(f"server RSS {before / 2**20:.0f} MB -> {after / 2**20:.0f} MB")
    assert after <= 1.10 * before, f"RSS {before / 2**20:.0f} MB -> {after / 2**20:.0f} MB"


def settled_rss(process, seconds: float = 10.0) -> int:
    """The lowest RSS over a few seconds: the run is `completed` in its status a moment before its thread has
    freed the model and handed the heap back."""
    lowest = process.memory_info().rss
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(0.5)
        lowest = min(lowest, process.memory_info().rss)
    return lowest


def test_a_public_demo_caps_runs_and_refuses_one_over_its_memory_cap(tiny_llama):
    lab = Lab(demo=True, limits={"memory_gb": 0.001})
    assert lab.shared and lab.limits["steps"] <= 300
    as_("demo-session")
    with pytest.raises(ValueError, match=r"this demo runs jobs up to 0.001 GB .* needs [\d.]+ GB: pick a smaller"):
        start(lab, tiny_llama, max_steps=2)
    assert lab.runs() == []  # nothing was queued


def test_on_a_space_with_persistent_storage_runs_are_kept_in_data(tmp_path, monkeypatch):
    from ftlab import paths

    monkeypatch.setattr(paths, "SPACE_STORAGE", tmp_path)
    monkeypatch.setenv("SPACE_ID", "someone/ftlab")
    assert paths.default_home() == tmp_path / "ftlab"
    monkeypatch.delenv("SPACE_ID")
    assert paths.default_home() == Path.home() / ".cache" / "ftlab"


@pytest.mark.slow  # heavier than the edit-test loop needs; make test runs it
def test_a_run_keeps_its_uploaded_data_after_the_session_that_uploaded_it_ends(tiny_llama):
    """An anonymous session's uploads go when its tab closes; its runs still resume from their own copy."""
    from ftlab import data

    temp = gradio_temp_dir() / f"ftlab-test-{os.getpid()}" / "my-pirates.jsonl"
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(data.resolve_path("pirate_chat").read_bytes())
    as_("erin-session")
    lab = Lab(shared=True, limits={"minutes": 0.001})  # stops (and saves) after its first step
    upload = lab.keep_upload(str(temp))
    run_id = start(lab, tiny_llama, max_steps=50, **{"data.path": upload})
    assert lab.jobs.wait(run_id, 300)["state"] == "stopped"
    lab.end_session("erin-session")
    assert not Path(upload).exists()
    kept = Path(lab.run_config(run_id)["data"]["path"])
    assert kept.is_relative_to(RunDir(run_id).path) and kept.name == "my-pirates.jsonl" and kept.is_file()
    resumed = lab.jobs.wait(lab.resume(run_id), 300)
    assert resumed["state"] == "stopped" and resumed["step"] > 1 and not resumed.get("error")
