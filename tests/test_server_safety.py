"""What the server refuses: files it does not mean to serve (runs, uploads, source, system files, by any path
trick), uploads over the size limit (the app stays healthy), and without a login, everything when --auth is set,
including the /v1 API unless a key is configured."""

from __future__ import annotations

import os
import urllib.parse

import httpx
import pytest
from conftest import launch_app, stop_app
from gradio_client import Client

SECRET = "secret-run-content-4711"


@pytest.fixture(scope="module")
def planted(app_home):
    """A run's file and an upload in the app's home, which no URL may reach."""
    run = app_home / "runs" / "20261124-000000-chat-lora"
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(f"model: {SECRET}\n")
    uploads = app_home / "uploads"
    uploads.mkdir(exist_ok=True)
    (uploads / "0123abcd-private.csv").write_text(f"text,label\n{SECRET},a\n")
    return run / "config.yaml", uploads / "0123abcd-private.csv"


def attempts(run_file, upload_file) -> list[str]:
    root = os.path.abspath(os.sep)
    up = "../" * 12
    return [str(run_file), str(upload_file), "/etc/passwd", "app.py", "ftlab/app/openai_api.py",
            f"{up}etc/passwd", f"{up}{str(run_file).lstrip(root)}", urllib.parse.quote(f"{up}etc/passwd", safe=""),
            f"%2e%2e/%2e%2e/%2e%2e/{str(run_file).lstrip(root)}", "..%2f..%2f..%2f..%2fetc%2fpasswd",
            f"{run_file.parent}/../{run_file.parent.name}/config.yaml"]


@pytest.mark.parametrize("route", ["gradio_api/file=", "file=", "gradio_api/file/"])
def test_no_file_route_reaches_runs_uploads_source_or_system_files(app_url, planted, route):
    for path in attempts(*planted):
        reply = httpx.get(f"{app_url}{route}{path}", timeout=30)
        assert reply.status_code in (400, 403, 404, 405), (route, path, reply.status_code)
        assert SECRET not in reply.text and "root:" not in reply.text and "def " not in reply.text


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """An app with logins and a 1 KB upload limit."""
    home = tmp_path_factory.mktemp("guarded-home")
    saved = {k: os.environ.get(k) for k in ("FTLAB_AUTH", "FTLAB_MAX_FILE_SIZE", "FTLAB_API_KEY")}
    os.environ.update(FTLAB_AUTH="ada:lovelace-1815", FTLAB_MAX_FILE_SIZE="1kb")
    os.environ.pop("FTLAB_API_KEY", None)
    try:
        proc, url = launch_app(home)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    yield url
    stop_app(proc)


def test_without_a_login_nothing_is_served_and_with_one_the_app_answers(guarded):
    assert httpx.get(f"{guarded}config", timeout=30).status_code == 401
    with pytest.raises(Exception):
        Client(guarded, verbose=False).predict(api_name="/samples")
    client = Client(guarded, auth=("ada", "lovelace-1815"), verbose=False)
    assert {s["name"] for s in client.predict(api_name="/samples")} >= {"pirate_chat", "sentiment"}


def test_behind_logins_the_v1_api_needs_a_key_even_when_none_is_set(guarded):
    reply = httpx.get(f"{guarded}v1/models", timeout=30)
    assert reply.status_code == 401 and "FTLAB_API_KEY" in reply.json()["error"]["message"]


def test_an_upload_over_the_limit_is_refused_with_a_message_and_the_app_stays_healthy(guarded, tmp_path):
    big, small = tmp_path / "big.csv", tmp_path / "small.csv"
    big.write_text("text,label\n" + "x" * 5000 + ",a\n")
    small.write_text("text,label\nfine,a\n")
    login = httpx.post(f"{guarded}login", data={"username": "ada", "password": "lovelace-1815"}, timeout=30)
    cookies = login.cookies
    refused = httpx.post(f"{guarded}gradio_api/upload", files={"files": big.open("rb")}, cookies=cookies, timeout=30)
    assert refused.status_code == 413 and "maximum allowed size of 1024 bytes" in refused.text
    accepted = httpx.post(f"{guarded}gradio_api/upload", files={"files": small.open("rb")}, cookies=cookies,
                          timeout=30)
    assert accepted.status_code == 200 and accepted.json()[0].endswith("small.csv")
    assert httpx.get(guarded, cookies=cookies, timeout=30).status_code == 200
