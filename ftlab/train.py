"""The training engine: `run(cfg, run_dir, stop)` trains one model and writes everything to its run directory.

Lifecycle: setup (data, tokenizer, model, method) -> train (checks `stop` after every optimizer step) ->
save (safetensors, atomically) -> cleanup in `finally`. It knows transformers and PEFT, not Gradio.
"""

from __future__ import annotations

import gc
import logging
import math
import shutil
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

from ftlab import data as data_mod
from ftlab import encode, methods, modeling, precision
from ftlab.config import RunConfig
from ftlab.runs import RunDir

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    state: str  # completed | stopped | failed
    step: int
    error: str = ""


@dataclass
class Setup:
    model: object
    tokenizer: object
    train: list
    val: list
    labels: list
    autocast: object
    device: str


def _examples(cfg: RunConfig, splits: data_mod.Splits, tok) -> tuple[list, list]:
    """Encoded training and validation examples; chat rows with nothing to learn (cut away) are dropped."""
    fmt, labels = splits.dataset.format, splits.dataset.labels
    index = {name: i for i, name in enumerate(labels)}

    def encode_all(rows):
        examples = [e for r in rows for e in encode.encode_row(tok, fmt, r, cfg.train.max_length, index,
                                                               cfg.data.train_on_prompt)]
        return [e for e in examples if "label" in e or any(x != encode.IGNORE for x in e["labels"])]

    return encode_all(splits.train), encode_all(splits.val)


def setup(cfg: RunConfig) -> Setup:
    """Load data, tokenizer and model, and apply the method."""
    import torch

    problems = cfg.validate()
    if problems:
        raise ValueError("; ".join(problems))
    splits = data_mod.load_splits(cfg.data, cfg.train.seed)
    ds = splits.dataset
    if ds.task != cfg.task:
        raise ValueError(f"{ds.path.name} is {ds.format} data (task {ds.task}), but the run's task is {cfg.task}")
    method = methods.get(cfg.method)
    if method.unavailable():
        raise RuntimeError(f"{method.label} cannot run here: {method.unavailable()}")
    torch.manual_seed(cfg.train.seed)
    device = modeling.device()
    dtype = precision.autocast_dtype(cfg.train.precision, device)
    where = modeling.resolve(cfg.model_ref()).path
    tok = modeling.load_tokenizer(where, cfg.trust_remote_code)
    train, val = _examples(cfg, splits, tok)
    quant = method.quantization(cfg, dtype or torch.float32)
    model = modeling.load_model(where, cfg.task, labels=ds.labels, quantization=quant, seed=cfg.train.seed,
                                trust_remote_code=cfg.trust_remote_code)
    if cfg.task == "classify" and model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    if quant is None:
        model.to(device)
    model = method.apply(model, cfg)
    return Setup(model, tok, train, val, ds.labels, dtype, device)


def _autocast(s: Setup):
    import torch

    return torch.autocast(s.device, dtype=s.autocast) if s.autocast is not None else nullcontext()


def _tensors(s: Setup, rows: list[dict]) -> dict:
    """A padded batch of encoded rows, on the training device."""
    return {k: v.to(s.device) for k, v in encode.collate(rows, s.tokenizer.pad_token_id).items()}


def evaluate(s: Setup, batch_size: int) -> dict:
    """Mean loss (and accuracy for classification) on the validation rows."""
    import torch

    if not s.val:
        return {}
    s.model.eval()
    total, weight, correct = 0.0, 0, 0
    with torch.no_grad(), _autocast(s):
        for i in range(0, len(s.val), batch_size):
            batch = _tensors(s, s.val[i : i + batch_size])
            out = s.model(**batch)
            n = int((batch["labels"] != encode.IGNORE).sum()) if batch["labels"].dim() > 1 else len(batch["labels"])
            total += float(out.loss) * n
            weight += n
            if batch["labels"].dim() == 1:
                correct += int((out.logits.argmax(-1) == batch["labels"]).sum())
    s.model.train()
    result = {"eval_loss": total / max(weight, 1)}
    if s.labels:
        result["eval_accuracy"] = correct / len(s.val)
    return result


def _total_steps(cfg: RunConfig, n_train: int) -> tuple[int, int]:
    batches = math.ceil(n_train / cfg.train.batch_size)
    per_epoch = max(1, math.ceil(batches / cfg.train.grad_accum))
    total = cfg.train.max_steps or max(1, math.ceil(cfg.train.epochs * per_epoch))
    return total, per_epoch


def _batches(cfg: RunConfig, s: Setup):
    """Endless stream of length-grouped batches, reshuffled each epoch."""
    epoch = 0
    while True:
        yield from encode.length_grouped_batches(s.train, cfg.train.batch_size, cfg.train.seed + epoch)
        epoch += 1


def save(s: Setup, run: RunDir, adapter: bool) -> None:
    """Write the weights (safetensors) and tokenizer into adapter/ or model/, atomically."""
    final = run.adapter_dir if adapter else run.model_dir
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    s.model.save_pretrained(tmp, safe_serialization=True)
    s.tokenizer.save_pretrained(tmp)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)


class Trainer:
    """One run's training loop; `run()` is the public entry point."""

    def __init__(self, cfg: RunConfig, run: RunDir, stop: threading.Event, on_event: Callable | None):
        self.cfg, self.run, self.stop, self.on_event = cfg, run, stop, on_event or (lambda e: None)
        self.total, self.per_epoch = 0, 1
        self.started = self.train_started = time.time()

    def emit(self, record: dict) -> None:
        self.run.append_metrics(record)
        self.on_event(record)

    def status(self, step: int, **fields) -> None:
        now = time.time()
        eta = (now - self.train_started) / step * (self.total - step) if step else None
        elapsed = now - self.started
        self.run.write_status(step=step, total_steps=self.total, elapsed=elapsed, eta=eta, **fields)

    def optimizer(self, s: Setup):
        import torch
        from transformers import get_linear_schedule_with_warmup

        params = [p for p in s.model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.cfg.train.learning_rate, weight_decay=self.cfg.train.weight_decay)
        warmup = int(self.total * self.cfg.train.warmup_ratio)
        return params, opt, get_linear_schedule_with_warmup(opt, warmup, self.total)

    def eval_and_log(self, s: Setup, step: int) -> dict:
        result = evaluate(s, self.cfg.train.batch_size)
        if result:
            self.emit({"step": step, "time": time.time() - self.started, **result})
            self.run.write_status(**result)
        return result

    def train(self, s: Setup) -> int:
        import torch

        t = self.cfg.train
        params, opt, sched = self.optimizer(s)
        eval_every = t.eval_every or max(1, self.total // 4)
        batches = _batches(self.cfg, s)
        s.model.train()
        self.eval_and_log(s, 0)
        self.train_started = time.time()
        step, tokens, tick, recent = 0, 0, time.time(), []
        while step < self.total:
            loss_sum = torch.zeros(())
            for _ in range(t.grad_accum):
                tensors = _tensors(s, next(batches))
                tokens += int(tensors["attention_mask"].sum())
                with _autocast(s):
                    loss = s.model(**tensors).loss / t.grad_accum
                loss.backward()
                loss_sum += loss.detach().float().cpu()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, t.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            if step % t.log_every == 0 or step == self.total:
                loss_value = float(loss_sum)
                if not math.isfinite(loss_value):
                    raise FloatingPointError(f"loss is {loss_value} at step {step}: lower the learning rate")
                now = time.time()
                self.emit({"step": step, "epoch": round(step / self.per_epoch, 3), "time": now - self.started,
                           "train_loss": loss_value, "lr": sched.get_last_lr()[0], "grad_norm": float(grad_norm),
                           "tokens_per_s": tokens / max(now - tick, 1e-9)})
                tokens, tick = 0, now
                recent = (recent + [loss_value])[-10:]
                self.status(step, state="running", train_loss=sum(recent) / len(recent))
            if step % eval_every == 0 and step < self.total:
                self.eval_and_log(s, step)
            if self.stop.is_set():
                break
        if step == self.total:
            self.eval_and_log(s, step)
        return step


def run(cfg: RunConfig, run_dir: RunDir, stop: threading.Event | None = None,
        on_event: Callable[[dict], None] | None = None) -> RunResult:
    """Train `cfg` into `run_dir`; never raises: failures end as state `failed` with a message."""
    stop = stop or threading.Event()
    trainer = Trainer(cfg, run_dir, stop, on_event)
    s = None
    try:
        run_dir.write_status(state="running", started=time.time(),
                             phase="loading model and data; a bundled model's first use converts it once, ~40 s")
        s = setup(cfg)
        trainer.total, trainer.per_epoch = _total_steps(cfg, len(s.train))
        trainable, total = methods.trainable_parameters(s.model)
        run_dir.write_status(phase="training", total_steps=trainer.total, trainable_params=trainable,
                             total_params=total, n_train=len(s.train), n_val=len(s.val), labels=s.labels,
                             precision=precision.describe(s.autocast), device=s.device)
        step = trainer.train(s)
        run_dir.write_status(phase="saving")
        save(s, run_dir, methods.get(cfg.method).adapter)
        state = "stopped" if step < trainer.total else "completed"
        trainer.status(step, state=state, phase="done", finished=time.time())
        return RunResult(state, step)
    except Exception as exc:  # noqa: BLE001 - a failed run must never take the app down
        log.exception("run %s failed", run_dir.id)
        message = _explain(exc, cfg)
        run_dir.write_status(state="failed", phase="done", error=message, finished=time.time())
        return RunResult("failed", run_dir.status().get("step", 0), message)
    finally:
        del s
        gc.collect()
        _empty_cuda_cache()


def _explain(exc: Exception, cfg: RunConfig) -> str:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        smaller = max(1, cfg.train.batch_size // 2)
        return f"out of memory at batch size {cfg.train.batch_size}: try {smaller} or a shorter max length"
    if isinstance(exc, data_mod.DataError):
        return "data problems:\n" + str(exc)
    return f"{type(exc).__name__}: {exc}"


def _empty_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
