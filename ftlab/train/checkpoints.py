"""Checkpoints a run can resume from: `runs/<id>/checkpoints/step-000040/`, written atomically.

Each holds the trainable parameters (safetensors), the optimizer, schedule and random-number state, and a
`meta.json` listing every file's size and SHA-256, written last. A checkpoint whose files are missing, cut short
or altered is detected, skipped and reported, and the one before it is used.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

KEEP = 2
"""Checkpoints kept per run (older ones are deleted once a newer one is complete)."""


@dataclass
class Restored:
    step: int
    weights: dict
    state: dict
    skipped: list[str] = field(default_factory=list)
    """Damaged checkpoints passed over, each with the reason."""


def folder(run_path: Path) -> Path:
    return Path(run_path) / "checkpoints"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(run_path: Path, step: int, model, state: dict, keep: int | None = None) -> Path:
    """Write a checkpoint of `model`'s trainable parameters and `state` (optimizer, scheduler, rng...); the KEEP
    newest stay, and the one at step `keep` (early stopping's best so far) too."""
    import torch
    from safetensors.torch import save_file

    final = folder(run_path) / f"step-{step:06d}"
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {n: p.detach().contiguous().cpu() for n, p in model.named_parameters() if p.requires_grad}
    save_file(weights, tmp / "trainable.safetensors")
    torch.save(state, tmp / "state.pt")
    files = {name: {"bytes": (tmp / name).stat().st_size, "sha256": sha256(tmp / name)}
             for name in ("trainable.safetensors", "state.pt")}
    (tmp / "meta.json").write_text(json.dumps({"step": step, "files": files}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(folder(run_path).glob("step-??????"))[:-KEEP]:
        if keep is None or old.name != f"step-{keep:06d}":
            shutil.rmtree(old, ignore_errors=True)
    return final


def _check(path: Path) -> str:
    """Why the checkpoint at `path` can't be used ('' when it can)."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        return f"meta.json unreadable ({exc.__class__.__name__})"
    for name, expected in meta.get("files", {}).items():
        file = path / name
        if not file.is_file():
            return f"{name} is missing"
        if file.stat().st_size != expected["bytes"]:
            return f"{name} is {file.stat().st_size} bytes, {expected['bytes']} expected (cut short?)"
        if sha256(file) != expected["sha256"]:
            return f"{name} does not match its checksum"
    return ""


def weights_at(run_path: Path, step: int) -> dict | None:
    """The trainable weights of the checkpoint at `step` (None: there is none, or it is damaged)."""
    from safetensors.torch import load_file

    path = folder(run_path) / f"step-{step:06d}"
    if not path.is_dir() or _check(path):
        return None
    try:
        return load_file(path / "trainable.safetensors")
    except Exception:  # noqa: BLE001 - unreadable: the run keeps the weights it has
        return None


def latest(run_path: Path) -> Restored | None:
    """The newest usable checkpoint, loaded; damaged ones are skipped and named in `skipped`."""
    import torch
    from safetensors.torch import load_file

    skipped = []
    for path in sorted(folder(run_path).glob("step-??????"), reverse=True):
        problem = _check(path)
        if not problem:
            try:
                weights = load_file(path / "trainable.safetensors")
                state = torch.load(path / "state.pt", weights_only=True)
                return Restored(int(path.name.split("-")[1]), weights, state, skipped)
            except Exception as exc:  # noqa: BLE001 - any unreadable file means: use an older checkpoint
                problem = f"unreadable ({exc.__class__.__name__}: {exc})"
        skipped.append(f"{path.name}: {problem}")
    return Restored(0, {}, {}, skipped) if skipped else None


def load_weights(model, weights: dict) -> None:
    """Copy checkpointed trainable weights into `model` (a ValueError when they are not its trainable ones)."""
    import torch

    params = dict(model.named_parameters())
    missing = set(weights) ^ {n for n, p in params.items() if p.requires_grad}
    if missing:
        raise ValueError(f"the checkpoint does not fit this model and method ({len(missing)} parameters differ)")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value.to(params[name].device))
