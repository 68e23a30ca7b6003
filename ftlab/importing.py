"""Import an adapter trained elsewhere as a run, so it can be compared with its base, served and exported like one.

The source is a zip or a folder holding PEFT's adapter_config.json and adapter_model.safetensors (what PEFT's
`save_pretrained` writes, and what ftlab's export zips). Pickled weights (.bin, .pt, .pth, .pkl, .ckpt) are
refused with a message: loading a pickle can run any code. So are zip members that would land outside the run.
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path, PurePosixPath

from ftlab.config import RunConfig
from ftlab.runs import RunDir

PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
METHODS = {"LORA": "lora", "IA3": "ia3", "PREFIX_TUNING": "prefix", "PROMPT_TUNING": "prompt",
           "P_TUNING": "ptuning"}
"""PEFT types and the method of an imported run (LoRA with use_dora is DoRA)."""


class AdapterRefused(ValueError):
    """The adapter can't be imported; the message says why and what to do."""


def _members(source: Path) -> dict[str, bytes]:
    """The adapter's files by name (no folders), read from a zip or a folder."""
    if source.is_dir():
        return {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()}
    if not zipfile.is_zipfile(source):
        raise AdapterRefused(f"{source.name}: not a zip or a folder; upload the adapter as a zip of "
                           "adapter_config.json and adapter_model.safetensors")
    out = {}
    with zipfile.ZipFile(source) as archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if info.filename.startswith("/") or ".." in name.parts:
                raise AdapterRefused(f"{source.name}: member {info.filename!r} points outside the archive")
            if not info.is_dir():
                out[name.name] = archive.read(info)
    return out


def _check(files: dict[str, bytes], name: str) -> dict:
    pickled = sorted(f for f in files if f.lower().endswith(PICKLED))
    if pickled:
        raise AdapterRefused(f"{name}: {pickled[0]} holds pickled weights, which can run code when loaded; only "
                           "safetensors are accepted (save the adapter with safe_serialization, PEFT's default)")
    if "adapter_config.json" not in files:
        raise AdapterRefused(f"{name}: no adapter_config.json: this is not a PEFT adapter")
    if not any(f.endswith(".safetensors") for f in files):
        raise AdapterRefused(f"{name}: no adapter_model.safetensors")
    try:
        config = json.loads(files["adapter_config.json"])
    except ValueError as exc:
        raise AdapterRefused(f"{name}: adapter_config.json is not valid JSON ({exc})") from None
    if config.get("peft_type") not in METHODS:
        raise AdapterRefused(f"{name}: adapter type {config.get('peft_type')!r} is not one of {', '.join(METHODS)}")
    if config.get("task_type") not in ("CAUSAL_LM", None):
        raise AdapterRefused(f"{name}: only chat (CAUSAL_LM) adapters can be imported, not {config.get('task_type')}")
    return config


def import_adapter(source: str | Path, base: str = "", owner: str | None = None) -> str:
    """A new run holding the adapter at `source` over `base` (default: the base named in its config); its id."""
    source = Path(source)
    files = _members(source)
    config = _check(files, source.name)
    base = base.strip() or config.get("base_model_name_or_path") or ""
    if not base:
        raise AdapterRefused(f"{source.name}: the adapter does not name its base model; give one")
    method = "dora" if config.get("use_dora") else METHODS[config["peft_type"]]
    cfg = RunConfig(task="chat", model=base, method=method, name=f"imported {source.name}")
    run = RunDir.create(cfg, owner)
    run.adapter_dir.mkdir(parents=True)
    for name, content in files.items():
        if name == "adapter_config.json" or name.endswith(".safetensors") or name == "README.md":
            (run.adapter_dir / name).write_bytes(content)
    try:
        run.write_status(state="completed", imported=source.name, finished=time.time(), step=0, total_steps=0)
    except Exception:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run.id
