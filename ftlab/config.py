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

from ftlab import checks
from ftlab.methods.settings import FreezeConfig, LoraConfig, PromptConfig, QuantConfig
from ftlab.tasks.settings import ClassifyConfig, PreferenceConfig


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
    eval_average: float = 0.0
    """Evaluations before the last measure an exponential moving average of the trained weights, with this decay
    per step (0: the weights as they are; an auto-tune trial: 0.9, see ftlab.train.averaging)."""
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
    start_from: str = ""
    """An earlier run of this app to go on from (its adapter, or its full weights), on the same base model: a
    preference run on an SFT run, whose result is then also the preference run's reference. Empty: the base."""
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)
    """Task `preference` only: its loss and beta (ftlab.tasks.settings)."""
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    """Task `classify` only: how its new head starts (ftlab.tasks.settings)."""
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def model_ref(self) -> str:
        from ftlab import tasks

        return self.model or tasks.default_models().get(self.task, "")

    def validate(self) -> list[str]:
        """Every problem with this config, as Events (ftlab.events) naming the field; the method's own settings
        are checked by their sections (ftlab.methods.settings)."""
        from ftlab import tasks
        from ftlab.methods.registry import METHODS

        problems = type_problems(self)
        if problems:  # the checks below compare numbers: a text or NaN where a number goes would mislead them
            return problems
        problems = bound_problems(self)
        known = self.task in tasks.names()
        problems += checks.one_of("task", self.task, tasks.names())
        problems += checks.one_of("method", self.method, METHODS)
        problems += self.data_problems() + self.train_problems(known)
        e = self.eval
        for name in ("probe_count", "max_new_tokens", "generate_rows", "report_rows", "overfit_patience"):
            problems += checks.at_least(f"eval.{name}", getattr(e, name), 0)
        if not isinstance(e.probes, list) or not all(isinstance(p, str) for p in e.probes):
            problems.append(checks.problem("probes_list", "eval.probes: expected a list of texts"))
        sections = METHODS[self.method].settings if self.method in METHODS else tuple(SETTINGS)
        sections += tasks.get(self.task).settings if known else ()
        for section in sections:
            problems += getattr(self, section).problems(section)
        return problems

    def data_problems(self) -> list:
        d, problems = self.data, []
        if not d.path:
            problems.append(checks.problem("no_data", "data.path: no dataset chosen"))
        if not isinstance(d.columns, dict):
            problems.append(checks.problem("columns_mapping", "data.columns: expected a mapping of field -> column"))
        return [*problems, *checks.positive("data.max_file_mb", d.max_file_mb),
                *checks.at_least("data.max_rows", d.max_rows, 0), *checks.below("data.val_fraction", d.val_fraction, 0, 1)]

    def train_problems(self, task_known: bool) -> list:
        from ftlab.metrics import registry
        from ftlab.train.optim import OPTIMIZERS, SCHEDULERS

        t, problems = self.train, []
        for name in ("batch_size", "grad_accum", "max_length", "log_every"):
            problems += checks.at_least(f"train.{name}", getattr(t, name), 1)
        for name in ("epochs", "max_steps", "weight_decay", "max_grad_norm", "eval_every", "save_every",
                     "early_stopping_patience", "step_limit", "time_limit_min", "activation_budget_mb"):
            problems += checks.at_least(f"train.{name}", getattr(t, name), 0)
        problems += checks.between("train.warmup_ratio", t.warmup_ratio, 0, 0.5)
        problems += checks.below("train.eval_average", t.eval_average, 0, 1)
        if t.epochs <= 0 and t.max_steps <= 0:
            problems.append(checks.problem("epochs_or_steps", "train.epochs / train.max_steps: one of them must be "
                                           "positive"))
        if t.eval_average and t.early_stopping_patience:
            problems.append(checks.problem(
                "average_and_early_stopping", "train.eval_average / train.early_stopping_patience: early stopping goes "
                "back to weights an evaluation measured, and averaged evaluations measure others: set one to 0"))
        problems += checks.positive("train.learning_rate", t.learning_rate)
        problems += checks.one_of("train.optimizer", t.optimizer, OPTIMIZERS)
        problems += checks.one_of("train.scheduler", t.scheduler, SCHEDULERS)
        problems += checks.one_of("train.precision", t.precision, ("auto", "fp32", "bf16", "fp16"))
        watchable = registry.keys(self.task if task_known else None)
        wrong = checks.one_of("train.early_stopping_metric", t.early_stopping_metric, watchable)
        if wrong and task_known:
            wrong = [checks.problem("not_measured", f"{wrong[0]} (what {self.task} measures)", task=self.task,
                                    **wrong[0].fields)]
        return problems + wrong

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


SETTINGS = ("lora", "freeze", "quant", "prompt")
"""The RunConfig sections that are methods' settings (ftlab.methods.settings.SECTIONS)."""
SECTIONS = ("data", *SETTINGS, "preference", "classify", "train", "eval")
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
                problems.append(checks.problem("not_section", f"{name}: expected a section of settings", setting=name))
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
        return checks.problem("not_type", f"{key}: {str(value)[:40]!r} is not {names.get(kind, kind.__name__)}",
                              setting=key, value=repr(str(value)[:40]), kind=kind.__name__)
    if kind is float and not math.isfinite(value):
        return checks.problem("not_finite", f"{key}: {value} must be a finite number", setting=key, value=value)
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
                problems += (checks.between(key, value, low, high) if low is not None else
                             [checks.problem("at_most", f"{key}: {value:.6g} must be at most {high:g}", setting=key,
                                             value=f"{value:.6g}", high=f"{high:g}")])
    return problems
