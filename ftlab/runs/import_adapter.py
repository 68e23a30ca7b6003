"""Import an adapter trained elsewhere as a run, so it can be compared with its base, served and exported like one.

The source is a zip or a folder holding PEFT's adapter_config.json and adapter_model.safetensors (what PEFT's
`save_pretrained` writes, and what ftlab's export zips). Pickled weights (.bin, .pt, .pth, .pkl, .ckpt) are
refused with a message: loading a pickle can run any code. So are zip members that would land outside the run,
and archives that unpack to more than FTLAB_MAX_ADAPTER_MB: only the adapter's own files are read, streamed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import time
import zipfile
from pathlib import Path, PurePosixPath

from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir

PICKLED = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
METHODS = {"LORA": "lora", "IA3": "ia3", "PREFIX_TUNING": "prefix", "PROMPT_TUNING": "prompt",
           "P_TUNING": "ptuning"}
"""PEFT types and the method of an imported run (LoRA with use_dora is DoRA)."""
MAX_MB = float(os.environ.get("FTLAB_MAX_ADAPTER_MB", 2048))
"""The most an imported adapter's kept files may unpack to (a 7B model's rank-64 LoRA is ~320 MB)."""
CONFIG_MAX_MB = 1
HEADER_MAX = 100 * 2**20
"""safetensors' own limit on a header's length."""


class AdapterRefused(ValueError):
    """The adapter can't be imported; the message says why and what to do."""


class _Source:
    """The adapter's files, by name (no folders), from a zip or a folder: listed without reading any, each read
    only when kept, and never more than MAX_MB unpacked in all (a small zip can hold gigabytes of zeros)."""

    def __init__(self, source: Path):
        self.source, self.archive = source, None
        if source.is_dir():
            self.entries = {p.name: p for p in source.iterdir() if p.is_file()}
            self.sizes = {name: p.stat().st_size for name, p in self.entries.items()}
            return
        if not zipfile.is_zipfile(source):
            raise AdapterRefused(f"{source.name}: not a zip or a folder; upload the adapter as a zip of "
                                 "adapter_config.json and adapter_model.safetensors")
        self.archive = zipfile.ZipFile(source)
        self.entries, self.sizes = {}, {}
        for info in self.archive.infolist():
            name = PurePosixPath(info.filename)
            if info.filename.startswith("/") or ".." in name.parts:
                raise AdapterRefused(f"{source.name}: member {info.filename!r} points outside the archive")
            if not info.is_dir():
                self.entries[name.name], self.sizes[name.name] = info, info.file_size

    def names(self) -> list[str]:
        return list(self.entries)

    def check_size(self, kept: list[str]) -> None:
        """Refuse before reading when the kept files say they unpack to more than MAX_MB."""
        declared = sum(self.sizes[name] for name in kept) / 2**20
        if declared > MAX_MB:
            raise AdapterRefused(f"{self.source.name}: the adapter's files unpack to {declared:,.0f} MB; at most "
                                 f"{MAX_MB:,.0f} MB are imported (FTLAB_MAX_ADAPTER_MB)")

    def copy(self, name: str, target, budget: list[int]) -> None:
        """Stream one member into `target` (a binary file), taking its bytes from `budget` ([bytes left, limit in
        MB]): a member that says it is small and unpacks to more is stopped at the budget."""
        with self.open(name) as stream:
            while piece := stream.read(2**20):
                budget[0] -= len(piece)
                if budget[0] < 0:
                    raise AdapterRefused(f"{self.source.name}: {name} unpacks to more than the {budget[1]:,.0f} MB "
                                         "it may hold (FTLAB_MAX_ADAPTER_MB)")
                target.write(piece)

    def open(self, name: str):
        return self.archive.open(self.entries[name]) if self.archive else open(self.entries[name], "rb")

    def check_safetensors(self, name: str) -> None:
        """A .safetensors file is an 8-byte header length, a JSON header and the tensors' bytes: its size must be
        what its header says (a file of zeros, or one padded to fill a disk, is not an adapter)."""
        with self.open(name) as stream:
            head = stream.read(8)
            length = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            header = stream.read(length) if 0 < length <= HEADER_MAX else b""
        try:
            tensors = json.loads(header)
            end = max((t["data_offsets"][1] for k, t in tensors.items() if k != "__metadata__"), default=0)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise AdapterRefused(f"{self.source.name}: {name} is not a safetensors file") from None
        if 8 + length + end != self.sizes[name]:
            raise AdapterRefused(f"{self.source.name}: {name} is {self.sizes[name]:,} bytes but its header "
                                 f"describes {8 + length + end:,}: not a safetensors file as written")

    def read(self, name: str, budget: list[int]) -> bytes:
        buffer = io.BytesIO()
        self.copy(name, buffer, budget)
        return buffer.getvalue()

    def close(self) -> None:
        if self.archive:
            self.archive.close()


def _kept(name: str) -> bool:
    return name in ("adapter_config.json", "README.md") or name.endswith(".safetensors")


def _check(files: list[str], name: str) -> None:
    pickled = sorted(f for f in files if f.lower().endswith(PICKLED))
    if pickled:
        raise AdapterRefused(f"{name}: {pickled[0]} holds pickled weights, which can run code when loaded; only "
                           "safetensors are accepted (save the adapter with safe_serialization, PEFT's default)")
    if "adapter_config.json" not in files:
        raise AdapterRefused(f"{name}: no adapter_config.json: this is not a PEFT adapter")
    if not any(f.endswith(".safetensors") for f in files):
        raise AdapterRefused(f"{name}: no adapter_model.safetensors")


def _config(raw: bytes, name: str) -> dict:
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise AdapterRefused(f"{name}: adapter_config.json is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise AdapterRefused(f"{name}: adapter_config.json holds {type(config).__name__}, not a JSON object")
    if config.get("peft_type") not in METHODS:
        raise AdapterRefused(f"{name}: adapter type {config.get('peft_type')!r} is not one of {', '.join(METHODS)}")
    if config.get("task_type") not in ("CAUSAL_LM", None):
        raise AdapterRefused(f"{name}: only chat (CAUSAL_LM) adapters can be imported, not {config.get('task_type')}")
    return config


def import_adapter(source: str | Path, base: str = "", owner: str | None = None, check_base=None) -> str:
    """A new run holding the adapter at `source` over `base` (default: the base named in its config); its id.
    `check_base(base)` may refuse the base (ValueError): a shared server takes no folder on the server."""
    source = Path(source)
    files = _Source(source)
    try:
        return _import(files, source.name, base, owner, check_base)
    finally:
        files.close()


def _import(files: _Source, name: str, base: str, owner: str | None, check_base) -> str:
    _check(files.names(), name)
    kept = [f for f in files.names() if _kept(f)]
    files.check_size(kept)
    for member in kept:
        if member.endswith(".safetensors"):
            files.check_safetensors(member)
    config = _config(files.read("adapter_config.json", [CONFIG_MAX_MB * 2**20, CONFIG_MAX_MB]), name)
    budget = [int(MAX_MB * 2**20), MAX_MB]
    base = base.strip() or config.get("base_model_name_or_path") or ""
    if not base:
        raise AdapterRefused(f"{name}: the adapter does not name its base model; give one")
    if check_base:
        check_base(base)
    method = "dora" if config.get("use_dora") else METHODS[config["peft_type"]]
    cfg = RunConfig(task="chat", model=base, method=method, name=f"imported {name}")
    run = RunDir.create(cfg, owner)
    try:
        run.adapter_dir.mkdir(parents=True)
        for member in kept:
            with open(run.adapter_dir / member, "wb") as target:
                files.copy(member, target, budget)
        run.write_status(state="completed", imported=name, finished=time.time(), step=0, total_steps=0)
    except BaseException:
        shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run.id
