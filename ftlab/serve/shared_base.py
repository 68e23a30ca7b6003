"""What inference loads (see ftlab.serve.model_server): a base model once, with every adapter run trained on it attached under
its own name and switched on per request, or a run's own weights (full fine-tunes, prompt-learning adapters).

`SharedBase` is one copy of a base model's weights: its base answers come with every adapter disabled, a run's
answers with that run's adapter set active, under the base's lock so two requests never switch it under each
other. `Pair` is the view one request gets: tokenizer, base and tuned model, and the context each runs in.
"""

from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from ftlab import methods, modeling, tasks
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir
from ftlab.tasks import head_probe


class NotReady(Exception):
    """The run has no saved weights (yet)."""


@dataclass
class Pair:
    """What one request needs: tokenizer, base and tuned (either may be None) and the context each runs in."""

    task: str
    tokenizer: object
    base: object
    tuned: object = None
    base_context: object = nullcontext
    labels: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    device: str = "cpu"
    use_cache: bool = True
    """False for prompt-learning adapters (see generate.Decoder)."""
    tuned_context: object = nullcontext
    max_length: int = 512
    """Where a classifier's texts are cut: the run's train.max_length (see encode.classification_inputs)."""


def load_base(cfg: RunConfig, labels: list, head: Path | None = None):
    """(model, tokenizer) of the base model a run starts from, quantized as its method loads it; `head`: the
    linear probe its classifier head started as (ftlab.tasks.head_probe.kept), else the head its seed draws."""
    import torch

    method = methods.get(cfg.method)
    where = modeling.resolve(cfg.model_ref()).path
    model = tasks.get(cfg.task).load_model(where, labels=labels, quantization=method.quantization(cfg, torch.float32),
                                seed=cfg.train.seed, trust_remote_code=cfg.trust_remote_code)
    if head is not None:
        head_probe.apply(model, head_probe.load(head))
    return model, modeling.load_tokenizer(where, cfg.trust_remote_code)


def base_key(cfg: RunConfig, labels: list, head: Path | None = None) -> tuple:
    """Runs with equal keys start from identical base weights and can share one loaded copy: the same model, task
    and quantization and, for classification, the same labels and seed (the new head is drawn from the seed) or
    the same linear probe (`head`, compared by content)."""
    import hashlib

    import torch

    quant = methods.get(cfg.method).quantization(cfg, torch.float32)
    probe = hashlib.sha256(head.read_bytes()).hexdigest() if head is not None else ""
    head = (tuple(labels), cfg.train.seed, probe) if tasks.get(cfg.task).labelled else ()
    return (str(modeling.resolve(cfg.model_ref()).path), cfg.task, quant.to_json_string() if quant else "",
            cfg.trust_remote_code, head)


def adapter_family(weights: Path) -> str:
    """The PEFT type of a saved adapter (LORA covers LoRA, DoRA and QLoRA; IA3): only one family per model."""
    return json.loads((Path(weights) / "adapter_config.json").read_text()).get("peft_type", "")


def shares_base(cfg: RunConfig) -> bool:
    """Adapter runs attach to a shared base; full fine-tunes and prompt-learning runs load their own weights."""
    return methods.get(cfg.method).shares_base


class SharedBase:
    """A base model loaded once; adapter runs attach to it by run id."""

    def __init__(self, task: str, model, tokenizer, labels: list):
        self.task, self.model, self.tokenizer, self.labels = task, model, tokenizer, labels
        self.device = modeling.device()
        self.lock = threading.RLock()
        self.adapters: dict[str, str] = {}
        """run id -> adapter name inside the model."""
        self.family = ""
        _to_device(self.model, self.device)

    def base_context(self):
        """Every adapter off: the model answers as the base (read when used: adapters may attach later)."""
        return self.model.disable_adapter() if self.family else nullcontext()

    @contextmanager
    def using(self, run_id: str):
        self.model.set_adapter(self.adapters[run_id])
        yield

    def accepts(self, family: str) -> bool:
        return not self.family or self.family == family

    def attach(self, run_id: str, weights: Path) -> None:
        from peft import PeftModel

        name = f"{re.sub(r'[^A-Za-z0-9_]', '_', run_id)}_{len(self.adapters)}"
        with self.lock, modeling.building:  # see ftlab.modeling: loading creates parameters
            if self.adapters or self.family:
                self.model.load_adapter(str(weights), adapter_name=name)
            else:
                self.model = PeftModel.from_pretrained(self.model, str(weights), adapter_name=name)
            self.family = adapter_family(weights)
            self.adapters[run_id] = name
            _to_device(self.model, self.device)

    def detach(self, run_id: str) -> None:
        name = self.adapters.pop(run_id, None)
        if name is not None and self.adapters:
            with self.lock:
                self.model.set_adapter(next(iter(self.adapters.values())))
                self.model.delete_adapter(name)

    def pair(self, run_id: str | None = None) -> Pair:
        tuned = self.model if run_id else None
        tuned_context = (lambda: self.using(run_id)) if run_id else nullcontext
        return Pair(self.task, self.tokenizer, self.model, tuned, self.base_context, self.labels, self.lock,
                    self.device, True, tuned_context)


def load_own(run_id: str, cfg: RunConfig, weights: Path, labels: list) -> Pair:
    """A run that can't share its base: a full fine-tune (base and tuned weights both loaded) or a prompt-learning
    adapter (the base model itself answers, with any trained head copy switched off)."""
    from peft import PeftModel

    with modeling.building:  # see ftlab.modeling
        base, tok = load_base(cfg, labels, head_probe.kept(RunDir(run_id).path))
        if methods.get(cfg.method).prompt_learning:
            model = PeftModel.from_pretrained(base, weights)
            pair = Pair(cfg.task, tok, model.get_base_model(), model, lambda: methods.saved_heads_off(model),
                        labels, use_cache=False)
        else:
            tuned = tasks.get(cfg.task).load_model(weights, labels=labels, trust_remote_code=cfg.trust_remote_code)
            pair = Pair(cfg.task, tok, base, tuned, nullcontext, labels)
    pair.device = modeling.device()
    for model in {id(m): m for m in (pair.base, pair.tuned) if m is not None}.values():
        _to_device(model, pair.device)
    return pair


def _to_device(model, device: str) -> None:
    if not getattr(model, "is_loaded_in_4bit", False) and not getattr(model, "hf_device_map", None):
        model.to(device)
    model.eval()
