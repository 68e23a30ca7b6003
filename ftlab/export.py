"""Export a finished run: its adapter (or full weights) as they are, or merged into the base model.

The output folder loads with transformers (and PEFT, for an adapter) on any machine; weights are safetensors.
Merging folds a LoRA / DoRA / IA3 update into a float copy of the base (a QLoRA base is loaded unquantised for
this); prefix, prompt and P-tuning adapters have nothing to fold in and are exported as adapters.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ftlab import methods, modeling
from ftlab.runs import RunDir


def export(run_id: str, out: str | Path, merge: bool = False) -> Path:
    """Write the run's weights to `out` (a new or empty folder); returns it. Raises ValueError with the reason."""
    run = RunDir(run_id)
    if not run.exists():
        raise ValueError(f"no run {run_id}")
    weights = run.weights_dir()
    if weights is None:
        raise ValueError(f"run {run_id} has no saved weights (state: {run.status().get('state')})")
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; choose a new folder")
    cfg, method = run.config(), methods.get(run.config().method)
    if not merge or not method.adapter:
        shutil.copytree(weights, out, dirs_exist_ok=True)
        return out
    if method.prompt_learning:
        raise ValueError(f"{method.label} adds virtual tokens, which can't be merged into the weights; export the "
                         "adapter (without --merge)")
    from peft import PeftModel

    labels = run.status().get("labels", [])
    where = modeling.resolve(cfg.model_ref()).path
    with modeling.building:
        base = modeling.load_model(where, cfg.task, labels=labels, seed=cfg.train.seed,
                                   trust_remote_code=cfg.trust_remote_code)
        merged = PeftModel.from_pretrained(base, weights).merge_and_unload()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    modeling.load_tokenizer(weights, cfg.trust_remote_code).save_pretrained(tmp)
    if out.exists():
        out.rmdir()
    tmp.rename(out)
    return out
