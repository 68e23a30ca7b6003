"""Export a finished run: its adapter (or full weights) as they are, or merged into the base model.

The output folder loads with transformers (and PEFT, for an adapter) on any machine; weights are safetensors.
Merging folds a LoRA / DoRA / IA3 update into a float copy of the base (a QLoRA base is loaded unquantised for
this); prefix, prompt and P-tuning adapters have nothing to fold in and are exported as adapters.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ftlab import methods, modeling, tasks
from ftlab.runs.run_dir import RunDir, with_weights


def export(run_id: str, out: str | Path, merge: bool = False) -> Path:
    """Write the run's weights to `out` (a new or empty folder); returns it. Raises ValueError with the reason."""
    run, weights = with_weights(run_id)
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; choose a new folder")
    cfg, method = run.config(), methods.get(run.config().method)
    if not merge or not method.adapter:
        shutil.copytree(weights, out, dirs_exist_ok=True)
        return _with_card(run, out)
    if method.prompt_learning:
        raise ValueError(f"{method.label} adds virtual tokens, which can't be merged into the weights; export the "
                         "adapter (without --merge)")
    from peft import PeftModel

    labels = run.status().get("labels", [])
    where = modeling.resolve(cfg.model_ref()).path
    with modeling.building:
        base = tasks.get(cfg.task).load_model(where, labels=labels, seed=cfg.train.seed,
                                   trust_remote_code=cfg.trust_remote_code)
        merged = PeftModel.from_pretrained(base, weights).merge_and_unload()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    modeling.load_tokenizer(weights, cfg.trust_remote_code).save_pretrained(tmp)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return _with_card(run, out)


def _with_card(run: RunDir, out: Path) -> Path:
    """The run's model card goes along as the export's README.md."""
    if (run.path / "README.md").is_file():
        shutil.copy(run.path / "README.md", out / "README.md")
    return out


def _with_exports(run: RunDir, out: Path) -> None:
    """The GGUF and ONNX files made for the run so far (its `exports/` folder, each format in its own folder) go
    along, so a Hub repo holds them beside the model."""
    made = run.path / "exports"
    for folder in sorted(p for p in made.iterdir() if p.is_dir()) if made.is_dir() else []:
        shutil.copytree(folder, out / folder.name)


def zip_export(run_id: str, out_zip: str | Path, merge: bool = False) -> Path:
    """The export as one .zip file (the adapter, or the merged model, with its model card); returns its path."""
    out_zip = Path(out_zip).expanduser()
    with tempfile.TemporaryDirectory(prefix="ftlab-export-") as tmp:
        folder = export(run_id, Path(tmp) / run_id, merge)
        archive = shutil.make_archive(str(out_zip.with_suffix("")), "zip", root_dir=folder)
    return Path(archive)


def push_to_hub(run_id: str, repo_id: str, token: str, merge: bool = False, private: bool = True) -> str:
    """Upload the adapter (or the merged model) with its model card, and the GGUF / ONNX exports made so far, to the
    Hub repo `repo_id`; returns its URL.

    The token is passed to the Hub client in memory only: it is never written to disk, to the run, or to a log,
    and an error message never contains it."""
    from huggingface_hub import HfApi

    if not repo_id.strip() or "/" not in repo_id:
        raise ValueError("repo id: expected 'user-or-org/name'")
    if not token.strip():
        raise ValueError("a Hugging Face token with write access is needed to push")
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token.strip())  # read now, not at import
    with tempfile.TemporaryDirectory(prefix="ftlab-push-") as tmp:
        folder = export(run_id, Path(tmp) / run_id, merge)
        _with_exports(RunDir(run_id), folder)
        try:
            api.create_repo(repo_id.strip(), private=private, exist_ok=True)
            api.upload_folder(folder_path=str(folder), repo_id=repo_id.strip(),
                              commit_message=f"ftlab run {run_id}" + (" (merged)" if merge else ""))
        except Exception as exc:  # noqa: BLE001 - reported without the token
            raise ValueError(f"push to {repo_id} failed: " + str(exc).replace(token.strip(), "***")) from None
    return f"https://huggingface.co/{repo_id.strip()}"
