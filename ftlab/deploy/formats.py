"""The export formats a run offers, by its task: safetensors for every run; GGUF (f16, q8_0, q4_k_m) for chat
models; ONNX (fp32 and int8) for classifiers. One zip per choice for the Export tab and the API."""

from __future__ import annotations

import shutil
from pathlib import Path

from ftlab import tasks
from ftlab.runs.run_dir import RunDir

GGUF = ("gguf-f16", "gguf-q8_0", "gguf-q4_k_m")


def offered(run_id: str) -> list[str]:
    """The formats of a run: "safetensors", then GGUF types (chat; "gguf-lora" for a LoRA run's adapter alone)
    or "onnx" (classifiers)."""
    cfg = RunDir(run_id).config()
    kind = tasks.get(cfg.task).try_out
    if kind == "chat":
        return ["safetensors", *GGUF, *(("gguf-lora",) if cfg.method in ("lora", "qlora") else ())]
    return ["safetensors", *(("onnx",) if kind == "classify" else ())]


def zip_run(run_id: str, folder: Path, fmt: str, merge: bool = False) -> Path:
    """The run in `fmt` as `<folder>/<run>-<fmt>.zip`; ValueError for a format the run does not offer."""
    from ftlab.runs.export import zip_export

    if fmt not in offered(run_id):
        raise ValueError(f"run {run_id} exports as {', '.join(offered(run_id))}, not {fmt}")
    if fmt == "safetensors":
        return zip_export(run_id, folder / f"{run_id}{'-merged' if merge else ''}.zip", merge)
    if fmt == "onnx":
        from ftlab.deploy.onnx_export import export_onnx

        made = export_onnx(run_id)
    else:
        from ftlab.deploy.gguf_export import build_adapter, build_gguf

        kind = fmt.removeprefix("gguf-")
        made = (build_adapter(run_id) if kind == "lora" else build_gguf(run_id, kind)).parent
    return Path(shutil.make_archive(str(folder / f"{run_id}-{fmt}"), "zip", root_dir=made))
