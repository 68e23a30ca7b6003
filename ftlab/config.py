"""RunConfig: everything that defines a training run, as a dataclass tree with YAML in/out.

`validate()` returns every problem at once (an empty list means the config is good), so the UI and the CLI
can show them all together. A run directory's config.yaml re-runs as it is.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml



@dataclass
class DataConfig:
    path: str = ""
    """A CSV, TSV, JSONL, JSON, Parquet or TXT file (optionally gzipped), or a bundled sample's name."""
    format: str = ""
    """Empty: detect it. Or one of messages, sharegpt, alpaca, prompt_completion, sentence_pair, classification,
    text (see ftlab.data.formats)."""
    columns: dict = field(default_factory=dict)
    """Format field -> the file's column, where names differ ({"text": "review", "label": "sentiment"})."""
    val_path: str = ""
    """A separate validation file in the same format; when set, val_fraction is not used."""
    val_fraction: float = 0.1
    """Share of rows held out for evaluation (0 disables evaluation)."""
    train_on_prompt: bool = False
    """Chat only: compute the loss on every token, not just the assistant's."""
    max_file_mb: float = 200
    """Refuse files larger than this many MB, before reading them."""
    max_rows: int = 0
    """Use only the first N rows (0: all)."""


@dataclass
class LoraConfig:
    r: int = 16
    """Rank of the low-rank update."""
    alpha: int = 32
    """Scale of the update (alpha / r multiplies it)."""
    dropout: float = 0.0
    """Dropout on the LoRA input; 0 by default: on a CPU the random masks cost ~15% of a step."""
    targets: str = "all-linear"
    """`all-linear`, `attention` (the attention projections only), or a comma-separated list of module names."""


@dataclass
class FreezeConfig:
    last_layers: int = 2
    """Method `freeze`: train only the last N transformer blocks, plus the head (and the final norm)."""


@dataclass
class QuantConfig:
    bits: int = 4
    """Method `qlora`: 4 (NF4) or 8 (LLM.int8) bit base weights."""
    double_quant: bool = True
    """4-bit only: quantise the quantisation constants too (saves ~0.4 bit per weight)."""
    compute_dtype: str = "auto"
    """auto (the run's precision) | fp32 | bf16 | fp16: the dtype the 4-bit weights are dequantised to."""


@dataclass
class PromptConfig:
    virtual_tokens: int = 20
    """Prefix, prompt and P-tuning: how many trainable virtual tokens."""
    init_text: str = ""
    """Prompt tuning: start the virtual tokens from this text's embeddings (empty: random)."""


@dataclass
class TrainConfig:
    epochs: float = 3.0
    max_steps: int = 0
    """Stop after this many optimizer steps (0: run the full epochs)."""
    learning_rate: float = 2e-4
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 256
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_every: int = 0
    """Evaluate every N optimizer steps (0: a few times per run)."""
    save_every: int = 0
    """Write a checkpoint (to resume from) every N optimizer steps (0: at every evaluation)."""
    log_every: int = 1
    seed: int = 42
    precision: str = "auto"
    """auto | fp32 | bf16 | fp16. auto picks bf16 on a CUDA GPU that has it, or a CPU where it is faster."""
    optimizer: str = "adamw"
    """adamw | sgd | adafactor | adamw_8bit (bitsandbytes)."""
    scheduler: str = "linear"
    """linear | cosine | constant, after warmup_ratio of the steps warming up."""
    auto_batch_size: bool = False
    """Before training, halve the batch size until the longest rows fit in memory (gradient accumulation keeps
    the effective batch)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass for every batch: much less memory, ~30% slower steps."""
    activation_budget_mb: float = 0.0
    """A batch whose stored activations would pass this recomputes them instead (see ftlab.train.recompute); 0: auto
    (1 GB on a CPU, a quarter of the GPU's memory)."""
    early_stopping_patience: int = 0
    """Stop when the eval metric has not improved for this many evaluations (0: never)."""
    early_stopping_metric: str = "eval_loss"
    """eval_loss or eval_perplexity (lower is better), or an eval metric where higher is better: eval_accuracy,
    eval_f1_macro, eval_f1_micro (classification), eval_bleu, eval_rougeL, eval_chrf, eval_exact_match (chat)."""
    step_limit: int = 0
    """At most this many steps whatever epochs or max_steps say (0: no limit; a shared server sets its budget)."""
    time_limit_min: float = 0.0
    """Stop (and save) after this many minutes of training (0: no limit; a shared server sets its budget)."""


@dataclass
class EvalConfig:
    probes: list = field(default_factory=list)
    """Prompts (chat) or texts (classification) the model answers at every eval, adapter off and on. Empty: the
    first `probe_count` rows of the validation split."""
    probe_count: int = 3
    max_new_tokens: int = 48
    """Length of the greedy replies to probes and validation prompts."""
    generate_rows: int = 8
    """Chat: validation rows answered at every eval for BLEU, chrF, ROUGE-L and exact match (0: loss only)."""
    report_rows: int = 100
    """Validation rows compared base vs tuned in the final report (classification scores them all)."""
    overfit_patience: int = 2
    """Warn when the eval loss has risen this many evaluations in a row while the train loss fell."""


@dataclass
class RunConfig:
    task: str = "chat"
    """chat (instruction / chat SFT of a causal LM) or classify (sequence classification)."""
    model: str = ""
    """A Hub id or a local folder; empty picks the task's default model."""
    method: str = "lora"
    """A fine-tuning method; see ftlab.methods.registry.METHODS."""
    name: str = ""
    """A label for the run (optional)."""
    trust_remote_code: bool = False
    """Run code shipped with the model. Off unless the user ticks it: it executes the model author's Python."""
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def model_ref(self) -> str:
        from ftlab import tasks

        return self.model or tasks.default_models().get(self.task, "")

    def validate(self) -> list[str]:
        """Every problem with this config, as messages naming the field."""
        from ftlab import tasks
        from ftlab.methods.registry import METHODS

        problems = type_problems(self)
        if problems:  # the checks below compare numbers: a text or NaN where a number goes would mislead them
            return problems
        problems = bound_problems(self)
        known = self.task in tasks.names()
        if not known:
            problems.append(f"task: {self.task!r} is not one of {', '.join(tasks.names())}")
        if self.method not in METHODS:
            problems.append(f"method: {self.method!r} is not one of {', '.join(METHODS)}")
        if not self.data.path:
            problems.append("data.path: no dataset chosen")
        if not isinstance(self.data.columns, dict):
            problems.append("data.columns: expected a mapping of field -> column")
        if self.data.max_file_mb <= 0 or self.data.max_rows < 0:
            problems.append("data.max_file_mb must be positive and data.max_rows at least 0")
        if not 0 <= self.data.val_fraction < 1:
            problems.append(f"data.val_fraction: {self.data.val_fraction} must be in [0, 1)")
        t = self.train
        for name in ("batch_size", "grad_accum", "max_length", "log_every"):
            if getattr(t, name) < 1:
                problems.append(f"train.{name}: {getattr(t, name)} must be at least 1")
        ranges = {"epochs": (0, None), "max_steps": (0, None), "warmup_ratio": (0, 0.5), "weight_decay": (0, None),
                  "max_grad_norm": (0, None), "eval_every": (0, None), "save_every": (0, None),
                  "early_stopping_patience": (0, None), "step_limit": (0, None), "time_limit_min": (0, None),
                  "activation_budget_mb": (0, None)}
        for name, (low, high) in ranges.items():
            value = getattr(t, name)
            if value < low or (high is not None and value > high):
                problems.append(f"train.{name}: {value} must be " + (f"between {low} and {high}" if high is not None
                                                                       else f"at least {low}"))
        if not 0 <= self.lora.dropout < 1 or self.lora.alpha <= 0:
            problems.append(f"lora.dropout / lora.alpha: {self.lora.dropout} / {self.lora.alpha}: dropout must be in "
                            "[0, 1) and alpha positive")
        if t.epochs <= 0 and t.max_steps <= 0:
            problems.append("train.epochs / train.max_steps: one of them must be positive")
        if t.learning_rate <= 0:
            problems.append(f"train.learning_rate: {t.learning_rate} must be positive")
        from ftlab.train.optim import OPTIMIZERS, SCHEDULERS

        if t.optimizer not in OPTIMIZERS:
            problems.append(f"train.optimizer: {t.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if t.scheduler not in SCHEDULERS:
            problems.append(f"train.scheduler: {t.scheduler!r} is not one of {', '.join(SCHEDULERS)}")
        from ftlab.metrics import registry

        watchable = registry.keys(self.task if known else None)
        if t.early_stopping_metric not in watchable:
            problems.append(f"train.early_stopping_metric: {t.early_stopping_metric!r} is not one of "
                            f"{', '.join(watchable)}" + (f" (what {self.task} measures)" if known else ""))
        e = self.eval
        for name in ("probe_count", "max_new_tokens", "generate_rows", "report_rows", "overfit_patience"):
            if getattr(e, name) < 0:
                problems.append(f"eval.{name}: {getattr(e, name)} must be at least 0")
        if not isinstance(e.probes, list) or not all(isinstance(p, str) for p in e.probes):
            problems.append("eval.probes: expected a list of texts")
        if t.precision not in ("auto", "fp32", "bf16", "fp16"):
            problems.append(f"train.precision: {t.precision!r} is not one of auto, fp32, bf16, fp16")
        if self.lora.r < 1:
            problems.append(f"lora.r: {self.lora.r} must be at least 1")
        if self.freeze.last_layers < 1:
            problems.append(f"freeze.last_layers: {self.freeze.last_layers} must be at least 1")
        if self.quant.bits not in (4, 8):
            problems.append(f"quant.bits: {self.quant.bits} is not 4 or 8")
        if self.quant.compute_dtype not in ("auto", "fp32", "bf16", "fp16"):
            problems.append(f"quant.compute_dtype: {self.quant.compute_dtype!r} is not one of auto, fp32, bf16, fp16")
        if self.prompt.virtual_tokens < 1:
            problems.append(f"prompt.virtual_tokens: {self.prompt.virtual_tokens} must be at least 1")
        return problems

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def set(self, key: str, value) -> None:
        """Set one declared setting by name, converted as the UI and API send it (ValueError naming it): a
        TrainConfig or DataConfig field (`epochs`, `format`), a section's (`lora.r`), or `trust_remote_code`."""
        section, name = self._field(key)
        setattr(section, name, coerce(key, _types(type(section))[name], value))

    def _field(self, key: str):
        """(section, field name) of a declared setting; nothing else (`train.__dict__`, `__class__`) is one."""
        if key == "trust_remote_code":
            return self, key
        if "." in key:
            head, name = key.split(".", 1)
            if head in SECTIONS and name in _types(type(getattr(self, head))):
                return getattr(self, head), name
        else:
            for section in (self.train, self.data):
                if key in _types(type(section)) and key != "path":
                    return section, key
        raise ValueError(f"unknown setting {str(key)[:60]!r}")

    @classmethod
    def from_dict(cls, raw: dict) -> "RunConfig":
        """A config from its plain form (YAML, JSON); ValueError naming what is wrong: an unknown key, a section
        that is not a mapping, a value that cannot be converted."""
        if raw is not None and not isinstance(raw, dict):
            raise ValueError(f"a config is a mapping of settings, not {type(raw).__name__}")
        raw = dict(raw or {})
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        nested = {f.name: f.default_factory for f in dataclasses.fields(cls)
                  if dataclasses.is_dataclass(f.default_factory)}
        for key, klass in nested.items():
            if not isinstance(raw.get(key) or {}, dict):
                raise ValueError(f"{key}: expected a section of settings, not {type(raw[key]).__name__}")
            sub = dict(raw.get(key) or {})
            bad = set(sub) - {f.name for f in dataclasses.fields(klass)}
            if bad:
                raise ValueError(f"unknown config keys in {key}: {', '.join(sorted(bad))}")
            kinds = _types(klass)
            raw[key] = klass(**{k: coerce(f"{key}.{k}", kinds[k], v) for k, v in sub.items()})
        return cls(**raw)

    def to_yaml(self, path: Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_yaml(cls, path: Path) -> "RunConfig":
        """The config in a YAML file; ValueError naming the file (and the line, for broken YAML)."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"{path.name}: not a text file") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            raise ValueError(f"{path.name}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
        try:
            return cls.from_dict(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path.name}: {exc}") from None


SECTIONS = ("data", "lora", "freeze", "quant", "prompt", "train", "eval")
"""The RunConfig fields that are sections of settings."""
INT_MAX = 2**31 - 1
LIMITS = {"train.seed": (0, 2**32 - 1), "train.max_steps": (0, 10_000_000), "train.epochs": (0, 10_000),
          "train.batch_size": (1, 65_536), "train.grad_accum": (1, 65_536), "train.max_length": (1, 1_048_576),
          "train.time_limit_min": (0, 10_000_000), "lora.r": (1, 65_536), "prompt.virtual_tokens": (1, 100_000),
          "eval.max_new_tokens": (0, 4096), "data.max_file_mb": (0, 10_000_000)}
"""Upper bounds beyond the checks of `validate` (which name the lower ones), so that no number is absurd: 1e300
steps, a seed past 2**32. Any other whole number lies within +-2**31; other decimals need only be finite."""


@functools.cache
def _types(klass) -> dict[str, type]:
    """Field name -> its declared type (int, float, str, bool, dict, list or a section's class)."""
    return {name: typing.get_origin(kind) or kind for name, kind in typing.get_type_hints(klass).items()}


def coerce(key: str, kind: type, value):
    """`value` as a field of type `kind`, as forms and JSON send it: a whole float for an int (4.0), a number or a
    numeric text for a float (YAML 1.1 reads 1e-4 as a text), one line per item for a list. Anything else is
    kept as it came, and `validate` names it."""
    if kind is int and isinstance(value, float) and value.is_integer() and abs(value) <= INT_MAX:
        return int(value)
    if kind is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{key}: {value!r} is not a number") from None
    if kind is list and isinstance(value, str):  # one item per line (probe prompts)
        return [line.strip() for line in value.splitlines() if line.strip()]
    return value


def type_problems(cfg: RunConfig) -> list[str]:
    """Every field whose value is not of its declared type, or is a number that is NaN, infinite or out of
    bounds (LIMITS, else +-2**31): a text "false" for a flag, 2.5 for a batch size."""
    problems = []
    for name, kind in _types(RunConfig).items():
        value = getattr(cfg, name)
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, kind):
                problems.append(f"{name}: expected a section of settings")
                continue
            problems += [_problem(f"{name}.{n}", k, getattr(value, n)) for n, k in _types(kind).items()]
        else:
            problems.append(_problem(name, kind, value))
    return [p for p in problems if p]


def _problem(key: str, kind: type, value) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a text", dict: "a mapping",
             list: "a list"}
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return f"{key}: {str(value)[:40]!r} is not {names.get(kind, kind.__name__)}"
    if kind is float and not math.isfinite(value):
        return f"{key}: {value} must be a finite number"
    return ""


def bound_problems(cfg: RunConfig) -> list[str]:
    """Every number past its bound (LIMITS; a whole number past +-2**31), and a negative seed."""
    problems = []
    for name, kind in _types(RunConfig).items():
        if not dataclasses.is_dataclass(kind):
            continue
        for field_name, field_kind in _types(kind).items():
            key, value = f"{name}.{field_name}", getattr(getattr(cfg, name), field_name)
            low, high = LIMITS.get(key, (None, INT_MAX if field_kind is int else math.inf))
            if field_kind in (int, float) and (value > high or (key == "train.seed" and value < low)):
                problems.append(f"{key}: {value:.6g} must be " + (f"from {low:g} to {high:g}" if low is not None
                                                                    else f"at most {high:g}"))
    return problems
