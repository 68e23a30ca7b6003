"""Shared fixtures: an offline, throw-away FTLAB_HOME, tiny config-built models, and the real app on a free port.

Tiny models reuse real tokenizers (SmolLM2's, MiniLM's) from the bundled packages, so no test touches the network.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ["FTLAB_HOME"] = tempfile.mkdtemp(prefix="ftlab-test-home-")
ROOT = Path(__file__).resolve().parent.parent
TEST_HOME = os.environ["FTLAB_HOME"]


APP_FIXTURES = {"app_url", "app_server", "page", "shared_app", "shared", "guarded", "served", "client"}
"""Fixtures that start the real app or a browser: a test using one is `slow` (the quick lane leaves it out)."""


def pytest_collection_modifyitems(config, items):
    for item in items:
        if APP_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session, exitstatus):
    """The throw-away home holds a converted model and every test run (~1 GB): it goes with the session."""
    shutil.rmtree(TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def smol_dir() -> Path:
    """The bundled SmolLM2-135M-Instruct, converted once into the test session's cache."""
    from ftlab import modeling
    from ftlab import tasks

    return modeling.resolve(tasks.get("chat").default_model).path


@pytest.fixture(scope="session")
def tiny_llama(smol_dir, tmp_path_factory) -> Path:
    """A 2-layer Llama with SmolLM2's tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    folder = tmp_path_factory.mktemp("tiny-llama")
    config = LlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (smol_dir / name).exists():
            shutil.copy(smol_dir / name, folder / name)
    allow_model_folder(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT with all-MiniLM-L6-v2's tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    from ftlab import modeling

    minilm = modeling.resolve("sentence-transformers/all-MiniLM-L6-v2").path
    folder = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, max_position_embeddings=128)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm / name, folder / name)
    allow_model_folder(folder)
    return folder


def allow_model_folder(folder: Path) -> None:
    """A shared app (and a shared Lab) takes local model folders only from FTLAB_MODEL_DIRS: the tiny models'."""
    listed = [p for p in os.environ.get("FTLAB_MODEL_DIRS", "").split(os.pathsep) if p]
    os.environ["FTLAB_MODEL_DIRS"] = os.pathsep.join(listed + [str(folder)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """FTLAB_HOME of the app started by `app_url` (its runs, uploads and log)."""
    return tmp_path_factory.mktemp("app-home")


def launch_app(home: Path) -> tuple[subprocess.Popen, str]:
    """Start the real app (`python app.py`) on a free local port with FTLAB_HOME=home; (process, url)."""
    port = free_port()
    log = open(home / "app.log", "a")
    env = {**os.environ, "FTLAB_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("app exited:\n" + (home / "app.log").read_text())
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("app did not start:\n" + (home / "app.log").read_text())


def wait_done(client, run_id: str, timeout: float = 600) -> dict:
    """Poll a run's /status through a gradio_client until it is no longer queued, running or stopping."""
    deadline, status = time.time() + timeout, {}
    while time.time() < deadline:
        status = client.predict(run_id, api_name="/status")
        if status["state"] not in ("queued", "running", "stopping"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout:g} s: {status}")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def app_server(app_home):
    """The real app on a free local port, with its own FTLAB_HOME (its log is app.log there): (url, process)."""
    proc, url = launch_app(app_home)
    yield url, proc
    stop_app(proc)


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server[0]
