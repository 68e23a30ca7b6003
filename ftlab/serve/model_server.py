"""ModelServer: answers chat and classification for base models and runs, base and tuned side by side.

A base model is loaded once, and every adapter run (LoRA, DoRA, QLoRA, IA3) trained on it attaches to that copy
and is switched on per request, so base vs tuned, and one run vs another, need no second copy of the weights
(ftlab.serve.shared_base). Full fine-tunes and prompt-learning runs load their own. A bounded LRU keeps the last few loaded.
"""

from __future__ import annotations

import gc
import os
import threading
from collections import OrderedDict
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ftlab import modeling, tasks
from ftlab.data import encode
from ftlab.serve import generation, gguf_serving
from ftlab.tasks import head_probe
from ftlab.train import memory, threads
from ftlab.config import RunConfig
from ftlab.serve.shared_base import (NotReady, Pair, SharedBase, adapter_family, base_key, load_base, load_own,
                                     shares_base)
from ftlab.runs.run_dir import RUN_ID, RunDir, with_weights

__all__ = ["Busy", "ModelServer", "NotReady", "Pair", "PromptTooLong", "TooMany", "load_pair"]


class PromptTooLong(ValueError):
    """A prompt longer than the model's context (or the server's cap, FTLAB_MAX_PROMPT_TOKENS)."""


def prompt_cap(model) -> int:
    """The most prompt tokens a request may send: the model's context, or FTLAB_MAX_PROMPT_TOKENS when lower."""
    context = getattr(getattr(model, "config", None), "max_position_embeddings", None) or 2048
    configured = int(os.environ.get("FTLAB_MAX_PROMPT_TOKENS") or context)
    return max(1, min(context, configured))


MAX_INPUTS = int(os.environ.get("FTLAB_MAX_INPUTS", 64))
"""Texts one classification request may hold (each cut where the run's training cut it: Pair.max_length)."""


class TooMany(ValueError):
    """More texts in one classification request than MAX_INPUTS."""


def check_inputs(texts: list) -> None:
    if len(texts) > MAX_INPUTS:
        raise TooMany(f"{len(texts)} texts in one request; at most {MAX_INPUTS} (FTLAB_MAX_INPUTS): send them in "
                      "several requests, or classify a file")


CHARS_PER_TOKEN = 32
"""A text of more than this many characters per allowed token is refused before it is tokenized."""


class Busy(Exception):
    """Loading a model now would take memory a training run needs; `retry_after` says when to try again (s)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


RESERVE_MB = 2048
"""Memory left free for a live training run when inference loads a model (FTLAB_TRAINING_RESERVE_MB)."""


def _eos_ids(tok, model) -> set[int]:
    ids = {tok.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids |= set(configured) if isinstance(configured, list) else {configured}
    return {i for i in ids if i is not None}


def answers_as(pair: Pair, kind: str) -> bool:
    """Whether the pair's task answers as `kind`: "chat" (replies) or "classify" (labels with probabilities)."""
    return tasks.get(pair.task).try_out == kind


def load_pair(run_id: str | None, task: str = "chat", base_ref: str = "") -> Pair:
    """A finished run (base + tuned) or a base model alone (run_id empty), loaded on its own (no sharing)."""
    return ModelServer(max_loaded=1).get(run_id, task, base_ref)


def _run_parts(run_id: str) -> tuple[RunConfig, Path, list]:
    run, weights = with_weights(run_id, NotReady)
    return run.config(), weights, run.status().get("labels", [])


class ModelServer:
    """Loaded models, least recently used dropped first: shared bases (each with its adapter runs attached) and
    runs that load their own weights count alike against `max_loaded`.

    `training()` returns the live training run's snapshot, or None: while a run trains, a model is loaded only
    if enough memory stays free for it (`reserve_mb`), else the request gets Busy with a retry hint."""

    def __init__(self, max_loaded: int = 2, training=None, reserve_mb: float | None = None):
        self.max_loaded = max_loaded
        self.training = training or (lambda: None)
        self.reserve_mb = reserve_mb
        self._loaded: OrderedDict[tuple, SharedBase | Pair] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: str | None, task: str = "chat", base_ref: str = "") -> Pair:
        """The loaded pair (base, tuned) of `run_id` (loading it, in a thread that ends with the work: the caller's
        may live long, see ftlab.train.threads), or of the base model `base_ref` alone."""
        return threads.apart(self._get, run_id, task, base_ref)

    def _get(self, run_id: str | None, task: str, base_ref: str) -> Pair:
        with self._lock:
            if not run_id:
                cfg = RunConfig(task=task, model=base_ref or tasks.get(task).default_model, method="full")
                return self._base(cfg, []).pair()
            cfg, weights, labels = _run_parts(run_id)
            if not shares_base(cfg):
                pair = self._entry(("run", run_id), cfg, lambda: load_own(run_id, cfg, weights, labels))
            else:
                base = self._base(cfg, labels, adapter_family(weights), head_probe.kept(RunDir(run_id).path))
                if run_id not in base.adapters:
                    base.attach(run_id, weights)
                pair = base.pair(run_id)
            pair.max_length = cfg.train.max_length  # a classifier reads texts as its run was trained on them
            return pair

    def _base(self, cfg: RunConfig, labels: list, family: str = "", head: Path | None = None) -> SharedBase:
        """The loaded base for `cfg` that takes adapters of `family` (any loaded one when family is empty); `head`:
        the linear probe its classifier head started as."""
        key = base_key(cfg, labels, head)
        for k in (key, key + (family,)):
            if k in self._loaded and (not family or self._loaded[k].accepts(family)):
                return self._entry(k, cfg, None)
        key = key if key not in self._loaded else key + (family,)
        return self._entry(key, cfg, lambda: SharedBase(cfg.task, *load_base(cfg, labels, head), labels))

    def _entry(self, key: tuple, cfg: RunConfig, load):
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        self._check_room(cfg)
        self._loaded[key] = load()
        while len(self._loaded) > self.max_loaded:
            self._loaded.popitem(last=False)
            gc.collect()
        return self._loaded[key]

    def _check_room(self, cfg: RunConfig) -> None:
        """Busy if a run is training and loading `cfg`'s model would leave it less than the reserve."""
        live = self.training()
        if not live:
            return
        reserve = self.reserve_mb if self.reserve_mb is not None else float(
            os.environ.get("FTLAB_TRAINING_RESERVE_MB", RESERVE_MB))
        need, free = modeling.weights_mb(cfg.model_ref()), memory.free_mb()
        if free - need < reserve:
            retry = max(10, int(live.get("eta") or 60))
            raise Busy(f"Run {live.get('run_id')} is training and loading {cfg.model_ref()} (~{need:,.0f} MB) "
                       f"now would leave it less than {reserve:,.0f} MB of the {free:,.0f} MB free. "
                       f"Retry in about {retry} s, when the run has finished, or use a model already loaded.",
                       retry)

    def loaded(self) -> list[dict]:
        """What is in memory, least recently used first: each base model (or run with its own weights), its task
        and the runs answering from it."""
        with self._lock:
            own = ("run", "onnx", "gguf")  # a run's own weights or exported file
            return [{"model": ":".join(key[1:]) if key[0] in own else key[0], "task": entry.task,
                     "runs": [key[1]] if key[0] in own else list(entry.adapters)}
                    for key, entry in self._loaded.items()]

    def forget(self, run_id: str) -> None:
        """Drop what was loaded for `run_id` (its weights changed: a resumed run finished again)."""
        with self._lock:
            for key in [k for k in self._loaded if k[0] in ("run", "onnx", "gguf") and k[1] == run_id]:
                self._loaded.pop(key)
            for entry in self._loaded.values():
                if isinstance(entry, SharedBase):
                    entry.detach(run_id)

    def chat_stream(self, run_id: str | None, base_history: list[dict], tuned_history: list[dict],
                    gen: generation.GenConfig, base_ref: str = "", against: str = "", runtime: str = ""):
        """Yield (base_text, tuned_text) as both replies grow; a history is a list of {role, content}.

        `against` (a run id, or a base model id) answers in the base's pane instead: one run next to another, e.g.
        the SFT run a preference run went on from next to that preference run. `runtime` "llama.cpp": both panes
        answer from GGUF q8_0 files (the base model's and the run's, made when first asked)."""
        if runtime == "llama.cpp":
            yield from self._gguf_stream(run_id, base_history, tuned_history, gen, base_ref, against)
            return
        pair = self.get(run_id, "chat", base_ref)
        if not answers_as(pair, "chat"):
            raise ValueError(f"run {run_id} is a {pair.task} run; use classify")
        with ExitStack() as stack:
            left = (stack.enter_context(self.reply(against, base_history, gen)) if against
                    else self._side(pair, pair.base, pair.base_context, base_history, gen))
            right = (self._side(pair, pair.tuned, pair.tuned_context, tuned_history, gen)
                     if pair.tuned is not None else None)
            yield from _texts([left, right])

    def _gguf_stream(self, run_id, base_history, tuned_history, gen, base_ref, against):
        """chat_stream on llama.cpp: the base (or `against`) and the run, each from its GGUF q8_0."""
        from ftlab.deploy import gguf_export

        kind = gguf_serving.COMPARE_KIND
        base = base_ref or tasks.get("chat").default_model
        if run_id:
            gguf_export.build_gguf(run_id, kind)
            base = _run_parts(run_id)[0].model_ref()
        left = against if ":" in (against or "") else f"{against or base}:gguf-{kind}"
        if against and RUN_ID.match(against) and RunDir(against).exists():
            gguf_export.build_gguf(against, kind)
        with ExitStack() as stack:
            sides = [stack.enter_context(self.reply(left, base_history, gen)),
                     stack.enter_context(self.reply(f"{run_id}:gguf-{kind}", tuned_history, gen)) if run_id else None]
            yield from _texts(sides)

    def _side(self, pair: Pair, model, context, history: list[dict], gen: generation.GenConfig) -> tuple:
        """(decoder, lock, decode) of one pane: `model` (of `pair`) answering `history`."""
        tok = pair.tokenizer
        decoder = generation.Decoder(model, self.prompt_ids(pair, history), gen, _eos_ids(tok, model), context,
                                     pair.device, pair.use_cache)
        return decoder, pair.lock, lambda ids: tok.decode(ids, skip_special_tokens=True)

    def chat(self, run_id: str | None, message: str, system_prompt: str = "", gen: generation.GenConfig | None = None,
             base_ref: str = "", against: str = "") -> dict:
        """One-turn chat: the complete base (or `against`) and tuned replies."""
        history = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
            {"role": "user", "content": message}]
        base, tuned = "", ""
        for base, tuned in self.chat_stream(run_id, history, history, gen or generation.GenConfig(), base_ref,
                                            against):
            pass
        return {"base": base, "tuned": tuned if run_id else None}

    @staticmethod
    def prompt_ids(pair: Pair, messages: list[dict]) -> list[int]:
        """The conversation's token ids, or PromptTooLong: a prompt past the cap would hold the model's lock for
        minutes and the memory of its attention."""
        cap = prompt_cap(pair.base)
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        if chars > cap * CHARS_PER_TOKEN:
            raise PromptTooLong(f"the conversation has {chars:,} characters, far more than the {cap:,} tokens this "
                                "model's prompts may have: shorten it or clear the conversation")
        ids = encode.prompt_ids(pair.tokenizer, messages)
        if len(ids) > cap:
            raise PromptTooLong(f"the conversation is {len(ids):,} tokens; this model's prompts may have at most "
                                f"{cap:,} (its context, or FTLAB_MAX_PROMPT_TOKENS): shorten it or clear the "
                                "conversation")
        return ids

    def pick(self, model: str, task: str) -> tuple[Pair, object, object]:
        """(pair, model, context) answering as `model`: a run id (its tuned model) or a base model id / folder."""
        run = RunDir(model) if RUN_ID.match(model or "") else None
        if run is not None and run.exists():
            pair = self.get(model, task)
            if not answers_as(pair, task):
                raise ValueError(f"run {model} is a {pair.task} run, not {task}")
            return pair, pair.tuned, pair.tuned_context
        pair = self.get(None, task, model)
        return pair, pair.base, pair.base_context

    def complete(self, model: str, messages: list[dict], gen: generation.GenConfig, stop: list[str] | None = None):
        """Yield (text delta, finish reason or None) of one model's reply; the last item has the finish reason:
        "stop" (end of turn or a stop string, which is cut off) or "length" (max new tokens). `model` as in
        `reply`; a run with a GGUF export measured faster than transformers answers from it (gguf_serving)."""
        with self.reply(gguf_serving.preferred(model), messages, gen) as (decoder, lock, decode):
            sent = ""
            while not decoder.done:
                with lock:  # one step at a time: concurrent requests on the same model interleave
                    decoder.step()
                text = decode(decoder.tokens)
                cut = min((text.find(s) for s in stop or [] if s and s in text), default=-1)
                if cut >= 0:
                    yield text[len(sent):cut], "stop"
                    return
                if text.endswith("\ufffd") and not decoder.done:  # half of a multi-byte character: wait for it
                    continue
                yield text[len(sent):], None
                sent = text
            hit_length = len(decoder.tokens) >= gen.max_new_tokens
        yield "", "length" if hit_length else "stop"

    @staticmethod
    def exports(run_id: str) -> list[str]:
        """The exported files a run answers from: `gguf-<type>` (chat) and `onnx`, `onnx-int8` (classifiers)."""
        from ftlab.deploy import onnx_export

        made = RunDir(run_id).path / "exports"
        gguf = [f.name for f in sorted(made.glob("gguf-*")) if (f / f"{run_id}-{f.name[5:]}.gguf").is_file()]
        onnx = [k for k, f in onnx_export.FILES.items() if (onnx_export.folder(run_id) / f).is_file()]
        return [g for g in gguf if g != "gguf-lora"] + onnx

    def ready(self, model: str, messages: list[dict]):
        """Load what will answer `model` (see complete) and check the prompt fits it (PromptTooLong), before a
        stream starts; returns its tokenizer."""
        chosen = gguf_serving.preferred(model)
        with self.reply(chosen, messages, generation.GenConfig(max_new_tokens=1)):
            pass
        run_id, _, kind = chosen.partition(":")
        if kind:
            return self._loaded[("gguf", run_id, kind)].tokenizer
        return self.pick(chosen, "chat")[0].tokenizer

    @contextmanager
    def reply(self, model: str, messages: list[dict], gen: generation.GenConfig):
        """(decoder, lock, decode) of one model's reply to `messages`: a run id (its tuned model), a base model id
        or folder, or `<run>:gguf-<type>` (the run's GGUF export, run by llama.cpp)."""
        ref, _, kind = model.rpartition(":")
        if not kind.startswith("gguf-"):
            pair, chosen, context = self.pick(model, "chat")
            yield self._side(pair, chosen, context, messages, gen)
            return
        is_run = bool(RUN_ID.match(ref)) and RunDir(ref).exists()
        cfg = _run_parts(ref)[0] if is_run else RunConfig(task="chat", model=ref, method="full")
        with self._lock:
            entry = self._entry(("gguf", ref, kind), cfg, lambda: (gguf_serving.load if is_run else
                                                                   gguf_serving.load_base)(ref, kind[5:]))
        with entry.context() as llm:
            yield entry.decoder(llm, messages, gen), threading.Lock(), entry.decode

    def predict(self, model: str, texts: list) -> list[dict]:
        """One model's {label, probabilities} for each text (or [text, text_pair]); `model` as in `pick`, or
        `<run>:onnx` / `<run>:onnx-int8` for the run's exported ONNX classifier (onnxruntime)."""
        check_inputs(texts)
        run_id, _, kind = model.partition(":")
        if kind and RUN_ID.match(run_id):
            (probs,) = [self._onnx(run_id, kind).probabilities(*_split_pairs(texts))]
        else:
            pair, chosen, context = self.pick(model, "classify")
            (probs,) = _probabilities(pair, texts, [(chosen, context)])
        return [{"label": max(p, key=p.get), "probabilities": p} for p in probs]

    def _onnx(self, run_id: str, kind: str):
        """The run's exported ONNX classifier of `kind`, loaded once (it counts against max_loaded)."""
        from ftlab.deploy import onnx_export
        from ftlab.deploy.onnx_runtime import OnnxClassifier

        folder = onnx_export.folder(run_id)
        file = onnx_export.FILES.get(kind)
        if file is None or not (folder / file).is_file():
            raise ValueError(f"run {run_id} has no export {kind!r}: export it as ONNX first (Export tab, or "
                             "python -m ftlab export RUN --format onnx)")
        cfg, _, _ = _run_parts(run_id)
        with self._lock:
            return self._entry(("onnx", run_id, kind), cfg,
                               lambda: OnnxClassifier(folder, file, cfg.train.max_length))

    def classify(self, run_id: str, texts: list) -> list[dict]:
        """For each text (or [text, text_pair] for sentence-pair runs): {"base": {label: prob}, "tuned": {...}}."""
        check_inputs(texts)
        pair = self.get(run_id, "classify")
        if not answers_as(pair, "classify"):
            raise ValueError(f"run {run_id} is a {pair.task} run; use chat")
        base, tuned = _probabilities(pair, texts, [(pair.base, pair.base_context), (pair.tuned, pair.tuned_context)])
        return [{"base": b, "tuned": t} for b, t in zip(base, tuned)]


def _texts(sides: list):
    """(base_text, tuned_text) after each lock-step round of the two panes' sides, then once more at the end."""
    texts = ("", "")
    for texts in generation.lockstep(sides):
        yield tuple(texts)
    yield tuple(texts)


def _probabilities(pair: Pair, texts: list, models: list) -> list[list[dict]]:
    """For each (model, context) of `models`, each text's {label: probability}; the texts are tokenized once (in a
    thread that ends with the work: the caller's may live long, see ftlab.train.threads)."""
    return threads.apart(_probabilities_here, pair, texts, models)


def _probabilities_here(pair: Pair, texts: list, models: list) -> list[list[dict]]:
    import torch

    firsts, seconds = _split_pairs(texts)
    enc = encode.classification_inputs(pair.tokenizer, firsts, seconds, pair.max_length, padding=True,
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
