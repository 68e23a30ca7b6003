"""ModelServer: loads a run's base once, attaches its adapter, and answers chat / classify for base and tuned.

For adapter methods (LoRA, QLoRA) base vs tuned is one model with the adapter switched off and on; for full
fine-tuning the base and the tuned weights are both loaded. A small LRU keeps the last few runs loaded.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from contextlib import nullcontext
from dataclasses import dataclass, field

from ftlab import encode, evaluation, generate, methods, modeling
from ftlab.config import DEFAULT_MODELS, RunConfig
from ftlab.runs import RUN_ID, RunDir


class NotReady(Exception):
    """The run has no saved weights (yet)."""


@dataclass
class Pair:
    """What one run needs for inference: tokenizer, base and tuned (either may be None)."""

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


def _eos_ids(tok, model) -> set[int]:
    ids = {tok.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(configured) if isinstance(configured, list) else {configured}
    return {i for i in ids if i is not None}


def _load_base(cfg: RunConfig, labels: list):
    import torch

    method = methods.get(cfg.method)
    where = modeling.resolve(cfg.model_ref()).path
    model = modeling.load_model(where, cfg.task, labels=labels, quantization=method.quantization(cfg, torch.float32),
                                seed=cfg.train.seed, trust_remote_code=cfg.trust_remote_code)
    tok = modeling.load_tokenizer(where, cfg.trust_remote_code)
    return model, tok


def load_pair(run_id: str | None, task: str = "chat", base_ref: str = "") -> Pair:
    """Load a finished run (base + tuned), or a base model alone when run_id is empty."""
    with modeling.building:  # no other thread builds a model meanwhile (see ftlab.modeling)
        return _load_pair(run_id, task, base_ref)


def _load_pair(run_id: str | None, task: str, base_ref: str) -> Pair:
    from peft import PeftModel

    if not run_id:
        cfg = RunConfig(task=task, model=base_ref or DEFAULT_MODELS[task], method="full")
        model, tok = _load_base(cfg, [])
        return _finish(Pair(task, tok, model))
    run = RunDir(run_id)
    if not run.exists():
        raise NotReady(f"no run {run_id}")
    cfg, weights = run.config(), run.weights_dir()
    if weights is None:
        raise NotReady(f"run {run_id} has no saved weights yet (state: {run.status().get('state')})")
    labels = run.status().get("labels", [])
    base, tok = _load_base(cfg, labels)
    method = methods.get(cfg.method)
    if method.prompt_learning:  # the base model itself answers, with any trained head copy switched off
        model = PeftModel.from_pretrained(base, weights)
        return _finish(Pair(cfg.task, tok, model.get_base_model(), model, lambda: evaluation.saved_heads_off(model), labels,
                            use_cache=False))
    if method.adapter:
        model = PeftModel.from_pretrained(base, weights)
        return _finish(Pair(cfg.task, tok, model, model, model.disable_adapter, labels))
    tuned = modeling.load_model(weights, cfg.task, labels=labels, trust_remote_code=cfg.trust_remote_code)
    return _finish(Pair(cfg.task, tok, base, tuned, nullcontext, labels))


def _finish(pair: Pair) -> Pair:
    pair.device = modeling.device()
    for model in {id(m): m for m in (pair.base, pair.tuned) if m is not None}.values():
        if not getattr(model, "is_loaded_in_4bit", False) and not getattr(model, "hf_device_map", None):
            model.to(pair.device)
        model.eval()
    return pair


class ModelServer:
    """Loaded runs, least recently used dropped first."""

    def __init__(self, max_loaded: int = 2):
        self.max_loaded = max_loaded
        self._pairs: OrderedDict[tuple, Pair] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: str | None, task: str = "chat", base_ref: str = "") -> Pair:
        key = (run_id or "", task, base_ref)
        with self._lock:
            if key in self._pairs:
                self._pairs.move_to_end(key)
                return self._pairs[key]
            pair = load_pair(run_id, task, base_ref)
            self._pairs[key] = pair
            while len(self._pairs) > self.max_loaded:
                self._pairs.popitem(last=False)
                gc.collect()
            return pair

    def forget(self, run_id: str) -> None:
        with self._lock:
            for key in [k for k in self._pairs if k[0] == run_id]:
                del self._pairs[key]

    def chat_stream(self, run_id: str | None, base_history: list[dict], tuned_history: list[dict],
                    gen: generate.GenConfig, base_ref: str = ""):
        """Yield (base_text, tuned_text) as both replies grow; a history is a list of {role, content}."""
        pair = self.get(run_id, "chat", base_ref)
        if pair.task != "chat":
            raise ValueError(f"run {run_id} is a {pair.task} run; use classify")
        tok = pair.tokenizer
        eos = _eos_ids(tok, pair.base)
        base = generate.Decoder(pair.base, encode.prompt_ids(tok, base_history), gen, eos, pair.base_context,
                                pair.device, pair.use_cache)
        tuned = None
        if pair.tuned is not None:
            tuned = generate.Decoder(pair.tuned, encode.prompt_ids(tok, tuned_history), gen, eos, nullcontext,
                                     pair.device, pair.use_cache)
        decode = lambda ids: tok.decode(ids, skip_special_tokens=True)  # noqa: E731
        texts = ("", "")
        for texts in generate.lockstep([base, tuned], pair.lock, decode):
            yield tuple(texts)
        yield tuple(texts)

    def chat(self, run_id: str | None, message: str, system_prompt: str = "", gen: generate.GenConfig | None = None,
             base_ref: str = "") -> dict:
        """One-turn chat: the complete base and tuned replies."""
        history = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
            {"role": "user", "content": message}]
        base, tuned = "", ""
        for base, tuned in self.chat_stream(run_id, history, history, gen or generate.GenConfig(), base_ref):
            pass
        return {"base": base, "tuned": tuned if run_id else None}

    def pick(self, model: str, task: str) -> tuple[Pair, object, object]:
        """(pair, model, context) answering as `model`: a run id (its tuned model) or a base model id / folder."""
        run = RunDir(model) if RUN_ID.match(model or "") else None
        if run is not None and run.exists():
            pair = self.get(model, task)
            if pair.task != task:
                raise ValueError(f"run {model} is a {pair.task} run, not {task}")
            return pair, pair.tuned, nullcontext
        pair = self.get(None, task, model)
        return pair, pair.base, nullcontext

    def complete(self, model: str, messages: list[dict], gen: generate.GenConfig, stop: list[str] | None = None):
        """Yield (text delta, finish reason or None) of one model's reply; the last item has the finish reason:
        "stop" (end of turn or a stop string, which is cut off) or "length" (max new tokens)."""
        pair, chosen, context = self.pick(model, "chat")
        tok = pair.tokenizer
        decoder = generate.Decoder(chosen, encode.prompt_ids(tok, messages), gen, _eos_ids(tok, chosen), context,
                                   pair.device, pair.use_cache)
        sent = ""
        while not decoder.done:
            with pair.lock:  # one step at a time: concurrent requests on the same model interleave
                decoder.step()
            text = tok.decode(decoder.tokens, skip_special_tokens=True)
            cut = min((text.find(s) for s in stop or [] if s and s in text), default=-1)
            if cut >= 0:
                yield text[len(sent):cut], "stop"
                return
            if text.endswith("\ufffd") and not decoder.done:  # half of a multi-byte character: wait for the rest
                continue
            yield text[len(sent):], None
            sent = text
        hit_length = len(decoder.tokens) >= gen.max_new_tokens
        yield "", "length" if hit_length else "stop"
    def predict(self, model: str, texts: list) -> list[dict]:
        """One model's {label, probabilities} for each text (or [text, text_pair]); `model` as in `pick`."""
        pair, chosen, context = self.pick(model, "classify")
        (probs,) = _probabilities(pair, texts, [(chosen, context)])
        return [{"label": max(p, key=p.get), "probabilities": p} for p in probs]

    def classify(self, run_id: str, texts: list) -> list[dict]:
        """For each text (or [text, text_pair] for sentence-pair runs): {"base": {label: prob}, "tuned": {...}}."""
        pair = self.get(run_id, "classify")
        if pair.task != "classify":
            raise ValueError(f"run {run_id} is a {pair.task} run; use chat")
        base, tuned = _probabilities(pair, texts, [(pair.base, pair.base_context), (pair.tuned, nullcontext)])
        return [{"base": b, "tuned": t} for b, t in zip(base, tuned)]


def _probabilities(pair: Pair, texts: list, models: list) -> list[list[dict]]:
    """For each (model, context) of `models`, each text's {label: probability}; the texts are tokenized once."""
    import torch

    firsts, seconds = _split_pairs(texts)
    enc = pair.tokenizer(firsts, seconds, padding=True, truncation=True, max_length=512,
                         return_tensors="pt").to(pair.device)
    out = []
    with pair.lock, torch.no_grad():
        for model, context in models:
            with context():
                out.append(torch.softmax(model(**enc).logits.float(), -1).cpu())
    names = pair.labels or [models[0][0].config.id2label[i] for i in range(out[0].shape[-1])]
    return [[{n: float(p[j]) for j, n in enumerate(names)} for p in probs] for probs in out]


def _split_pairs(texts: list) -> tuple[list[str], list[str] | None]:
    """Texts, or [text, text_pair] items (all of one kind), as the tokenizer's two arguments."""
    if all(isinstance(t, str) for t in texts):
        return list(texts), None
    if all(isinstance(t, (list, tuple)) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in texts):
        return [t[0] for t in texts], [t[1] for t in texts]
    raise ValueError("texts must all be strings, or all be [text, text_pair] pairs")
