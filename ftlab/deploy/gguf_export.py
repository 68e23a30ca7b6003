"""A chat run as a folder llama.cpp and Ollama run as it is: the merged model as GGUF (f16, or quantized by
llama.cpp), an Ollama Modelfile beside it, and a README with the commands and the run's model card.

The run's adapter is folded into the base first (ftlab.runs.export); a prompt-learning run has nothing to fold in
and is refused with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from ftlab import data, modeling, paths, tasks
from ftlab.deploy import gguf_file, modelfile, quantize
from ftlab.runs import export as run_export
from ftlab.runs.run_dir import RunDir, with_weights

USAGE = """# {name}

Exported by ftlab from run `{run}` ({model}, {method}) as GGUF `{kind}`.

- llama.cpp: `llama-cli -m {file} -cnv` (the chat template and stop tokens are in the file)
- Ollama: `ollama create {name} -f Modelfile`, then `ollama run {name}`
- Python: `llama_cpp.Llama("{file}").create_chat_completion(messages=[...])`

"""


ADAPTER_USAGE = """# LoRA adapter of run `{run}` as GGUF

For the base model `{model}` as GGUF (same weights, any type):

- llama.cpp: `llama-cli -m base.gguf --lora {file} -cnv`
- Ollama: add `ADAPTER ./{file}` to a Modelfile whose FROM is the base model
- Python: `llama_cpp.Llama("base.gguf", lora_path="{file}")`
"""


def eos_ids(folder: Path, tok) -> list[int]:
    """The ids that end a reply: generation_config.json's eos_token_id (one or several), else the tokenizer's."""
    found = []
    config = folder / "generation_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("eos_token_id")
        found = value if isinstance(value, list) else [value] if value is not None else []
    return found or [tok.eos_token_id]


def common_system(cfg) -> str:
    """The system prompt every training conversation began with, or ""."""
    try:
        ds = data.load(cfg.data.path, fmt=cfg.data.format, columns=cfg.data.columns or None)
        prompts = {tuple(m.get("content", "") for m in data.to_messages(ds.format, r)[:1]
                         if m.get("role") == "system") for r in ds.rows}
    except (data.DataError, OSError, KeyError):
        return ""
    return prompts.pop()[0] if len(prompts) == 1 and next(iter(prompts)) else ""


def folder(run_id: str, kind: str) -> Path:
    return RunDir(run_id).path / "exports" / f"gguf-{kind}"


def build_gguf(run_id: str, kind: str = "q8_0") -> Path:
    """The run's GGUF of `kind` with its Modelfile and README, made once into the run folder
    (`exports/gguf-<kind>/`); returns the GGUF file."""
    run, _ = with_weights(run_id)
    cfg = run.config()
    if tasks.get(cfg.task).try_out != "chat":
        raise ValueError(f"run {run_id} is a {cfg.task} run: GGUF is for chat models; export a classifier as ONNX")
    if kind not in quantize.TYPES:
        raise ValueError(f"GGUF type {kind!r}: one of {', '.join(quantize.TYPES)}")
    out, name = folder(run_id, kind), f"{run_id}-{kind}"
    if (out / f"{name}.gguf").is_file():
        return out / f"{name}.gguf"
    with tempfile.TemporaryDirectory(prefix="ftlab-gguf-") as tmp:
        staged = Path(tmp) / "out"
        staged.mkdir()
        target = staged / f"{name}.gguf"
        merged = run_export.export(run_id, Path(tmp) / "merged", merge=True)
        tok = modeling.load_tokenizer(merged)
        ends = eos_ids(merged, tok)
        f16 = target if kind == "f16" else Path(tmp) / "f16.gguf"
        gguf_file.write(merged, f16, name, ends)
        if kind != "f16":
            quantize.quantize(f16, target, kind)
        stops = [tok.convert_ids_to_tokens(i) for i in ends]
        (staged / "Modelfile").write_text(modelfile.modelfile(target.name, tok, stops, common_system(cfg)),
                                          encoding="utf-8")
        card = (merged / "README.md").read_text(encoding="utf-8") if (merged / "README.md").is_file() else ""
        usage = USAGE.format(name=name.lower(), run=run_id, model=cfg.model_ref(), method=cfg.method, kind=kind,
                             file=target.name)
        (staged / "README.md").write_text(usage + card, encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), out)
    return out / f"{name}.gguf"


def build_base(ref: str, kind: str = "q8_0") -> Path:
    """A base model (Hub id, bundled model or folder) as GGUF of `kind`, made once into FTLAB_HOME/gguf/: what the
    base pane of Compare answers from on the llama.cpp path."""
    where = modeling.resolve(ref).path
    target = paths.gguf_dir() / f"{re.sub(r'[^A-Za-z0-9_.-]+', '--', modeling.short(ref))}-{kind}.gguf"
    if target.is_file():
        return target
    tok = modeling.load_tokenizer(where)
    with tempfile.TemporaryDirectory(prefix="ftlab-gguf-", dir=paths.gguf_dir()) as tmp:
        f16 = Path(tmp) / "f16.gguf"
        gguf_file.write(where, f16, modeling.short(ref), eos_ids(where, tok))
        made = f16 if kind == "f16" else quantize.quantize(f16, Path(tmp) / "out.gguf", kind)
        made.rename(target)
    return target


def build_adapter(run_id: str) -> Path:
    """The run's LoRA adapter as a GGUF adapter (`exports/gguf-lora/<run>-lora.gguf`), made once; for people who
    keep the base model's GGUF and apply the adapter on top."""
    from ftlab.deploy import gguf_lora

    run, weights = with_weights(run_id)
    cfg = run.config()
    out = folder(run_id, "lora") / f"{run_id}-lora.gguf"
    if out.is_file():
        return out
    if weights != run.adapter_dir:
        raise ValueError(f"run {run_id} trained {cfg.method}, not an adapter: export the model as GGUF instead")
    base = json.loads((modeling.resolve(cfg.model_ref()).path / "config.json").read_text(encoding="utf-8"))
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    gguf_lora.write_adapter(weights, base, partial, f"{run_id}-lora")
    partial.rename(out)
    (out.parent / "README.md").write_text(ADAPTER_USAGE.format(run=run_id, model=cfg.model_ref(), file=out.name),
                                          encoding="utf-8")
    return out


def export_gguf(run_id: str, out: str | Path, kind: str = "q8_0") -> Path:
    """Copy the run's GGUF of `kind`, its Modelfile and README into `out` (a new or empty folder); returns the
    GGUF there."""
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; choose a new folder")
    made = build_gguf(run_id, kind)
    shutil.copytree(made.parent, out, dirs_exist_ok=True)
    return out / made.name


def zip_gguf(run_id: str, out_zip: str | Path, kind: str = "q8_0") -> Path:
    """The GGUF export as one .zip (GGUF, Modelfile, README); returns its path."""
    made = build_gguf(run_id, kind)
    out_zip = Path(out_zip).expanduser()
    return Path(shutil.make_archive(str(out_zip.with_suffix("")), "zip", root_dir=made.parent))
