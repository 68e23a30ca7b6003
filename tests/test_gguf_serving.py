"""Chat answered from a run's GGUF export by llama.cpp: greedy replies of the f16 file equal the transformers path,
in the OpenAI-style completion and next to the transformers model in Compare; concurrent replies each keep their
own context; a plain run id goes to the GGUF only when it was measured faster (or the operator says so)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from ftlab.config import RunConfig
from ftlab.deploy import gguf_export, llama_runtime
from ftlab.runs.run_dir import RunDir
from ftlab.serve import gguf_serving
from ftlab.serve.generation import GenConfig
from ftlab.serve.model_server import ModelServer
from ftlab.train import engine

pytestmark = pytest.mark.slow  # llama.cpp / ONNX exports of trained runs: make test runs them


GREEDY = GenConfig(max_new_tokens=16, temperature=0)
QUESTIONS = [f"Where is treasure number {i}?" for i in range(8)]


@pytest.fixture(scope="module")
def run_id(tiny_llama) -> str:
    cfg = RunConfig(task="chat", model=str(tiny_llama), method="lora")
    cfg.data.path, cfg.data.max_rows = "pirate_chat", 24
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.precision = 4, 5e-3, "fp32"
    cfg.eval.generate_rows, cfg.eval.report_rows = 0, 0
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    for kind in ("f16", "q8_0"):
        gguf_export.build_gguf(run.id, kind)
    return run.id


def reply(server: ModelServer, model: str, question: str) -> str:
    return "".join(text for text, _ in server.complete(model, [{"role": "user", "content": question}], GREEDY))


def test_the_f16_gguf_answers_as_transformers_through_the_server(run_id, monkeypatch):
    monkeypatch.setenv("FTLAB_CHAT_RUNTIME", "transformers")
    server = ModelServer()
    for question in QUESTIONS[:3]:
        assert reply(server, f"{run_id}:gguf-f16", question) == reply(server, run_id, question)
    assert any(entry["model"] == f"{run_id}:gguf-f16" for entry in server.loaded())


def test_compare_puts_the_gguf_next_to_the_transformers_model(run_id):
    history = [{"role": "user", "content": QUESTIONS[0]}]
    left, right = "", ""
    for left, right in ModelServer().chat_stream(run_id, history, history, GREEDY, against=f"{run_id}:gguf-f16"):
        pass
    assert left == right and right


def test_concurrent_replies_from_one_gguf_each_keep_their_own_context(run_id):
    server = ModelServer()
    alone = [reply(server, f"{run_id}:gguf-q8_0", q) for q in QUESTIONS]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda q: reply(server, f"{run_id}:gguf-q8_0", q), QUESTIONS))
    assert together == alone


def test_a_plain_run_id_goes_to_the_gguf_only_when_it_was_measured_faster(run_id, monkeypatch):
    costs = RunDir(run_id).path / "exports" / "costs.json"
    monkeypatch.delenv("FTLAB_CHAT_RUNTIME", raising=False)
    assert gguf_serving.preferred(run_id) == run_id  # not measured: transformers
    rows = [{"format": "safetensors (not exported)", "runtime": "transformers", "speed": 12.0},
            {"format": "GGUF f16", "runtime": "llama.cpp", "speed": 60.0},
            {"format": "GGUF q8_0", "runtime": "llama.cpp", "speed": 90.0},
            {"format": "GGUF q4_k_m", "runtime": "llama.cpp", "speed": 120.0}]
    costs.write_text(json.dumps(rows))
    try:
        assert gguf_serving.preferred(run_id) == f"{run_id}:gguf-q8_0"  # the fastest near-lossless one
        monkeypatch.setenv("FTLAB_CHAT_RUNTIME", "transformers")
        assert gguf_serving.preferred(run_id) == run_id
        monkeypatch.delenv("FTLAB_CHAT_RUNTIME")
        costs.write_text(json.dumps([{**r, "speed": 1.0} if r["runtime"] == "llama.cpp" else r for r in rows]))
        assert gguf_serving.preferred(run_id) == run_id  # slower here: transformers stays
        monkeypatch.setenv("FTLAB_CHAT_RUNTIME", "llama.cpp")
        assert gguf_serving.preferred(run_id) == f"{run_id}:gguf-q8_0"
    finally:
        costs.unlink()


def test_a_gguf_not_exported_is_a_clear_error(run_id):
    with pytest.raises(ValueError, match="no export 'gguf-q4_k_m'"):
        reply(ModelServer(), f"{run_id}:gguf-q4_k_m", "Hi")


def test_compare_on_llama_cpp_answers_base_and_tuned_from_their_ggufs(run_id, tiny_llama):
    """Both panes from GGUF q8_0: the base model's (written on first use) and the run's; each pane's reply is
    what that file answers alone."""
    history = [{"role": "user", "content": QUESTIONS[1]}]
    server = ModelServer()
    left, right = "", ""
    for left, right in server.chat_stream(run_id, history, history, GREEDY, runtime="llama.cpp"):
        pass
    assert right == reply(server, f"{run_id}:gguf-q8_0", QUESTIONS[1])
    assert left == reply(server, f"{tiny_llama}:gguf-q8_0", QUESTIONS[1]) and left != right


def test_on_a_cpu_with_amx_models_load_without_llamacpps_extra_buffers():
    """llama.cpp's AMX kernels crashed this process in llama_decode on an AMX Xeon (the tests above, alone and
    concurrent): there every model loads with plain buffers; elsewhere the repacked weights stay."""
    import llama_cpp
    import llama_cpp.llama_cpp as low

    amx = b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()
    assert llama_runtime.plain_buffers_on_amx() == amx
    assert low.llama_model_default_params().use_extra_bufts is (not amx)
