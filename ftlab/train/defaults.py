"""Settings a run starts with, chosen for its data, task, method and model, each with the reason in one line.

`choose(Facts)` holds the rules (pure, unit-tested); `facts(cfg)` gathers what they read: the training rows and
their tokens (as the model's tokenizer counts them, when the model is on this machine), the model's size. Every
value stays the person's to change: these are where a run starts, as a good lab's senior would set them.

- Learning rate by method: training every weight moves a model far with each step (2e-5 .. 5e-5), a low-rank
  adapter needs ~10x more (2e-4), IA3's scaling vectors and prompt learning's few virtual tokens ~100x more. A
  classification head starts from random numbers and learns faster again, and so does a small model (<0.5B).
- A classifier's new head starts as a linear probe (ftlab.tasks.head_probe): on the sentiment case a random head at
  the small-model LoRA rate (1.3e-3) fell back to chance on one seed of three (49.8 %), the probed one ended at
  92.2, 88.4 and 89.8 %.
- Length of the run: small data gets epochs until the run has taken enough optimizer steps to learn (80 rows of
  a persona in 3 epochs were 54 steps, and a tuned model that named its new self in 2 of 8 answers); large data
  fewer epochs. Where there are validation rows and several epochs, early stopping on the validation loss (one
  evaluation per epoch, patience 2) ends a run that has stopped improving.
- Batch: the task's, smaller for very few rows so an epoch still has steps.
- LoRA rank and alpha by model size (alpha = 2 x rank); max length from the rows' token lengths (95th
  percentile), so short rows do not pay for padding and long ones are not cut.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from ftlab.events import Event

LEARNING_RATE = {"full": 2e-5, "freeze": 1e-4, "lora": 2e-4, "qlora": 2e-4, "dora": 2e-4, "ia3": 3e-3,
                 "prefix": 1e-2, "ptuning": 1e-2, "prompt": 3e-2}
"""A method's learning rate for a chat model of ~1B parameters (PEFT's and the methods' papers' ranges)."""
TASK_SCALE = {"chat": 1.0, "classify": 2.5, "preference": 1.0}
"""A classification head starts from random weights and takes a larger step (LoRA 5e-4, full 5e-5)."""
SMALL_MODEL, SMALL_SCALE = 500e6, 2.5
SMALL_SCALED = ("full", "lora", "qlora", "dora")
"""A model under SMALL_MODEL parameters takes SMALL_SCALE larger steps when its weights or a low-rank adapter of them
train (full 5e-5, LoRA 5e-4): on the sentiment case (MiniLM, 22M), both the full and the LoRA half of a hand-run grid
peaked at 2.5x the billion-parameter rate, on two seeds (benchmarks/RESULTS.md)."""
MIN_STEPS = {"chat": 160, "classify": 100, "preference": 100}
"""Optimizer steps a run takes at least (small data gets more epochs for them)."""
MAX_EPOCHS = 10
BATCH = {"chat": 4, "classify": 16, "preference": 4}
LENGTH = {"chat": (64, 1024), "classify": (32, 512), "preference": (64, 1024)}
"""(shortest, longest) max length the rows' lengths choose between."""
LENGTH_SAMPLE = 2000
"""Rows whose tokens are counted for the max length, drawn at random from larger data: a suggestion follows every
change in the Model tab, and counting 45,000 chat rows took 2.7 s here (2,000: 0.18 s); the 95th percentile of
2,000 is within a few tokens of the whole's."""


@dataclass
class Facts:
    task: str
    method: str
    rows: int
    """Training rows (after the validation share is held out)."""
    val_rows: int = 0
    params: int = 0
    """The model's parameters (0: unknown)."""
    lengths: list[int] = dataclasses.field(default_factory=list)
    """Tokens per training row as the model sees them, of every row or of LENGTH_SAMPLE drawn from them (empty: the
    tokenizer is not on this machine)."""

    @property
    def tokens(self) -> int:
        """The training rows' tokens (estimated from the sample when the lengths are a sample's)."""
        return round(sum(self.lengths) * self.rows / len(self.lengths)) if self.lengths else 0


@dataclass
class Choice:
    key: str
    """A RunConfig setting as Lab.build_config takes it (`learning_rate`, `lora.r`)."""
    value: object
    why: Event


def choose(f: Facts) -> list[Choice]:
    """The settings for a run on these facts, each with its reason."""
    batch = batch_size(f)
    out = [learning_rate(f), Choice("batch_size", batch[0], batch[1]), *length(f, batch[0])]
    if f.method in ("lora", "qlora", "dora"):
        out += lora_rank(f)
    if f.task == "classify":
        out.append(Choice("classify.head_init", "probe", Event(
            "head_probe", "the new head starts as a linear probe fitted on the base model's features (a random one "
            "starts at chance, and at a high learning rate a run can stay there)")))
    if f.lengths:
        out.append(max_length(f))
    return out


def learning_rate(f: Facts) -> Choice:
    base = LEARNING_RATE.get(f.method, LEARNING_RATE["lora"])
    small = f.method in SMALL_SCALED and 0 < f.params < SMALL_MODEL
    value = float(f"{base * (SMALL_SCALE if small else 1.0) * TASK_SCALE.get(f.task, 1.0):.2g}")
    if small:
        return Choice("learning_rate", value, Event(
            "lr_small", f"learning rate {value:g}: what {f.method} needs on a model of {f.params / 1e9:.2g}B "
            "parameters (a small model takes larger steps than a billion-parameter one)", method=f.method,
            value=f"{value:g}", size=f"{f.params / 1e9:.2g}"))
    return Choice("learning_rate", value, Event("lr", f"learning rate {value:g}: what {f.method} needs "
                                                      f"{'(its head starts untrained) ' if f.task == 'classify' else ''}"
                                                      f"- full training takes small steps, adapters and prompts larger",
                                                method=f.method, value=f"{value:g}", head=f.task == "classify"))


def batch_size(f: Facts) -> tuple[int, Event]:
    usual = BATCH.get(f.task, 4)
    value = max(1, min(usual, f.rows // 8)) if f.rows else usual
    if value < usual:
        return value, Event("batch_small", f"batch {value}: only {f.rows} rows, so an epoch still has 8 steps",
                            value=value, rows=f.rows)
    return value, Event("batch", f"batch {value}: the {f.task} task's usual", value=value, task=f.task)


def length(f: Facts, batch: int) -> list[Choice]:
    """Epochs (and early stopping) for the data's size."""
    usual = 3 if f.rows < 1000 else 2 if f.rows < 10_000 else 1
    per_epoch = max(1, math.ceil(f.rows / batch)) if f.rows else 0
    epochs, why = float(usual), Event("epochs", f"{usual} epochs for {f.rows} rows", value=usual, rows=f.rows)
    need = MIN_STEPS.get(f.task, 100)
    if per_epoch and per_epoch * usual < need:
        epochs = float(min(MAX_EPOCHS, math.ceil(need / per_epoch)))
        why = Event("epochs_small", f"{epochs:g} epochs: {f.rows} rows make {per_epoch} steps an epoch, and a run "
                    f"learns in about {need} steps", value=f"{epochs:g}", rows=f.rows, per_epoch=per_epoch,
                    steps=need)
    out = [Choice("epochs", epochs, why)]
    if f.val_rows and epochs >= 2 and per_epoch:
        out += [Choice("early_stopping_patience", 2, Event(
                    "early", "early stopping: the run ends when the validation loss has not improved for 2 epochs")),
                Choice("early_stopping_metric", "eval_loss", Event("early_metric", "watching the validation loss")),
                Choice("eval_every", per_epoch, Event("eval_every", f"an evaluation each epoch ({per_epoch} steps)",
                                                      steps=per_epoch))]
    else:
        out += [Choice("early_stopping_patience", 0, Event("no_early", "no early stopping: no validation rows or a "
                                                           "single epoch")),
                Choice("eval_every", 0, Event("eval_auto", "evaluations a few times during the run"))]
    return out


def lora_rank(f: Facts) -> list[Choice]:
    r = 8 if f.params and f.params < 300e6 else 16 if not f.params or f.params < 3e9 else 32
    why = (Event("rank", f"LoRA rank {r}, alpha {2 * r}: fits a model of {f.params / 1e9:.2g}B parameters", r=r,
                 alpha=2 * r, size=f"{f.params / 1e9:.2g}") if f.params else
           Event("rank_unknown", f"LoRA rank {r}, alpha {2 * r}: the model is not on this machine yet, so its size "
                 "is not known", r=r, alpha=2 * r))
    return [Choice("lora.r", r, why),
            Choice("lora.alpha", 2 * r, Event("alpha", f"alpha {2 * r} (twice the rank)", alpha=2 * r))]


def max_length(f: Facts) -> Choice:
    low, high = LENGTH.get(f.task, (64, 1024))
    p95 = sorted(f.lengths)[max(0, math.ceil(0.95 * len(f.lengths)) - 1)]
    value = min(high, max(low, 32 * math.ceil(p95 / 32)))
    cut = sum(n > value for n in f.lengths)
    if len(f.lengths) < f.rows:  # a sample's lengths: the share cut is the sample's
        cut = round(cut * f.rows / len(f.lengths))
        return Choice("max_length", value, Event(
            "max_length_sampled", f"max length {value}: 95 % of {len(f.lengths):,} rows drawn at random have at most "
            f"{p95} tokens (about {cut:,} of {f.rows:,} rows are longer and cut)", value=value, p95=p95,
            sample=f"{len(f.lengths):,}", cut=f"{cut:,}", rows=f"{f.rows:,}"))
    return Choice("max_length", value, Event("max_length", f"max length {value}: 95 % of the rows have at most {p95} "
                                             f"tokens ({cut} of {len(f.lengths)} longer ones are cut)", value=value,
                                             p95=p95, cut=cut, rows=len(f.lengths)))


def facts(cfg) -> Facts:
    """What the rules read, for a RunConfig: its training rows and their token lengths (when the model's tokenizer
    is on this machine: nothing is downloaded for a suggestion), and the model's size."""
    from ftlab import data, modeling
    from ftlab.data import insight

    splits = data.load_splits(cfg.data, cfg.train.seed)
    found = Facts(cfg.task, cfg.method, len(splits.train), len(splits.val))
    try:
        path = modeling.resolve(cfg.model_ref(), fetch=False).path
    except modeling.ModelNotFound:
        return found
    found.params = parameters(str(path), cfg.trust_remote_code)
    rows = splits.train if len(splits.train) <= LENGTH_SAMPLE else \
        random.Random(cfg.train.seed).sample(splits.train, LENGTH_SAMPLE)
    train = dataclasses.replace(splits.dataset, rows=rows)
    with insight.LOCK:
        found.lengths = insight.token_lengths(train, insight.tokenizer(str(path)))
    return found


def parameters(path: str, trust_remote_code: bool = False) -> int:
    """The model's parameter count, from its config on PyTorch's meta device (nothing allocated)."""
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        model = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    return sum(p.numel() for p in model.parameters())
