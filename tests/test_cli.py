"""The headless CLI on the app's engine: a run started the way the UI starts it re-runs from its config.yaml to
the same losses; export writes the adapter, or the merged model that loads with plain transformers."""

from __future__ import annotations

import pytest
import torch

from ftlab.serve import model_server
from ftlab.__main__ import main
from ftlab.runs.jobs import JobManager
from ftlab.runs.run_dir import RunDir
from ftlab.app.lab import Lab


@pytest.fixture(scope="module")
def ui_run(tiny_llama) -> str:
    """A LoRA run started like the Train tab starts one (Lab.build_config -> JobManager)."""
    cfg = Lab.build_config("chat", "pirate_chat", str(tiny_llama), "lora", max_steps=6, learning_rate=5e-3,
                           batch_size=2, max_length=64, eval_every=6)  # evaluated at the start and the end
    jobs = JobManager()
    run_id = jobs.start(cfg)
    assert jobs.wait(run_id, timeout=300)["state"] == "completed"
    return run_id


def losses(run_id: str) -> list[float]:
    return [m["train_loss"] for m in RunDir(run_id).metrics() if "train_loss" in m]


@pytest.mark.slow  # trains through the Lab, then again headless
def test_a_ui_runs_config_reruns_headless_to_the_same_losses(ui_run, capsys):
    assert main(["train", str(RunDir(ui_run).path / "config.yaml")]) == 0
    rerun = capsys.readouterr().out.split()[1]
    assert rerun != ui_run and losses(rerun) == pytest.approx(losses(ui_run), rel=1e-5)


@pytest.mark.slow  # shares the trained run of the test above
def test_export_writes_the_adapter_and_the_merged_model(ui_run, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    assert main(["export", ui_run, "--out", str(tmp_path / "adapter")]) == 0
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    assert main(["export", ui_run, "--out", str(tmp_path / "merged"), "--merge"]) == 0
    assert not list((tmp_path / "merged").glob("*.bin")) and not list((tmp_path / "merged").glob("adapter_*"))
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged").eval()
    tuned = model_server.load_pair(ui_run).tuned
    ids = torch.tensor([[1, 422, 1234, 88, 9]])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, tuned(input_ids=ids).logits, atol=1e-4)
    assert main(["export", ui_run, "--out", str(tmp_path / "merged")]) == 2
    assert "is not empty" in capsys.readouterr().err


@pytest.mark.slow  # its fixture trains runs; make test runs it
def test_the_exported_zip_loads_with_plain_peft_outside_ftlab(ui_run, tiny_llama, tmp_path):
    import zipfile

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert main(["export", ui_run, "--out", str(tmp_path / "adapter.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "adapter.zip") as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "unzipped")
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md"} <= names
    assert "LoRA" in (tmp_path / "unzipped" / "README.md").read_text()  # the model card goes along
    plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), tmp_path / "unzipped").eval()
    tuned = model_server.load_pair(ui_run).tuned
    ids = torch.tensor([[1, 5, 9, 42, 7]])
    with torch.no_grad():
        assert torch.allclose(plain(input_ids=ids).logits, tuned(input_ids=ids).logits, atol=1e-5)
