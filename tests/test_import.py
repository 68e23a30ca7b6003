"""An adapter trained elsewhere comes in as a run and answers exactly as the run it was exported from; pickled
weights, archives that climb out of their folder, and non-adapters are refused with a message saying why."""

from __future__ import annotations

import zipfile

import pytest

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.serve.generation import GenConfig
from ftlab.runs.import_adapter import AdapterRefused
from ftlab.serve.model_server import ModelServer
from ftlab.runs.run_dir import RunDir
from ftlab.app.lab import Lab


@pytest.fixture(scope="module")
def exported(tiny_llama, tmp_path_factory) -> tuple[str, str]:
    cfg = RunConfig(task="chat", model=str(tiny_llama), method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.max_steps, cfg.train.learning_rate = 2, 5e-3
    cfg.eval.generate_rows, cfg.eval.report_rows = 0, 2
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id, Lab().export_zip(run.id)


def test_an_exported_adapter_imports_as_a_run_that_answers_the_same(exported, tiny_llama):
    run_id, zip_path = exported
    imported = Lab().import_adapter(zip_path, str(tiny_llama))
    assert imported != run_id and RunDir(imported).config().method == "lora"
    gen = GenConfig(max_new_tokens=8, temperature=0)
    assert ModelServer().chat(imported, "Ahoy there", gen=gen) == ModelServer().chat(run_id, "Ahoy there", gen=gen)
    assert imported in {r["run_id"] for r in Lab().runs() if r["has_weights"]}


def test_a_runs_tokenizer_is_the_one_saved_with_its_weights_else_its_base_models(exported, tiny_llama):
    from ftlab import modeling

    run = RunDir(exported[0])
    assert run.tokenizer_dir() == run.adapter_dir and (run.adapter_dir / "tokenizer_config.json").is_file()
    (run.adapter_dir / "tokenizer_config.json").rename(run.adapter_dir / "tokenizer_config.json.away")
    try:  # weights without a tokenizer beside them (an adapter from elsewhere): the base model's is the run's
        assert run.tokenizer_dir() == modeling.resolve(str(tiny_llama)).path
    finally:
        (run.adapter_dir / "tokenizer_config.json.away").rename(run.adapter_dir / "tokenizer_config.json")


def rezip(source: str, target, extra: dict) -> str:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for item in src.infolist():
            out.writestr(item, src.read(item))
        for name, content in extra.items():
            out.writestr(name, content)
    return str(target)


@pytest.mark.parametrize("extra, message", [
    ({"adapter_model.bin": b"\x80\x04pickled"}, "adapter_model.bin holds pickled weights"),
    ({"weights.pt": b"\x80\x04"}, "weights.pt holds pickled weights"),
    ({"../../evil.safetensors": b"x"}, "points outside the archive"),
])
def test_pickles_and_escaping_members_are_refused(exported, tmp_path, extra, message):
    bad = rezip(exported[1], tmp_path / "bad.zip", extra)
    with pytest.raises(AdapterRefused, match=message):
        Lab().import_adapter(bad)


def test_a_file_that_is_no_adapter_is_refused(tmp_path):
    plain = tmp_path / "notes.zip"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(AdapterRefused, match="no adapter_config.json"):
        Lab().import_adapter(str(plain))
    with pytest.raises(AdapterRefused, match="not a zip or a folder"):
        Lab().import_adapter(__file__)
