"""What a run trains on, made ready: data split and tokenized once, tokenizer, model on its device with the
method applied (`setup`), the batches it draws (`batches`), its length in steps, and saving the result.
"""

from __future__ import annotations

import math
import shutil
from contextlib import nullcontext
from dataclasses import dataclass, field

from ftlab import tasks
from ftlab import data as data_mod
from ftlab import methods, modeling
from ftlab.data import encode, token_cache
from ftlab.train import parallel, precision, threads
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir


@dataclass
class Setup:
    model: object
    tokenizer: object
    train: list
    val: list
    labels: list
    autocast: object
    device: str
    cases: tasks.Cases = field(default_factory=tasks.Cases)
    """The validation rows as the evaluator asks them (texts with labels, or prompts with reference replies)."""
    task: tasks.Task = field(default_factory=tasks.Task)
    """The run's task: it collates the batches."""

    def autocast_context(self):
        import torch

        return torch.autocast(self.device, dtype=self.autocast) if self.autocast is not None else nullcontext()


def _examples(cfg: RunConfig, splits: data_mod.Splits, tok, model_dir) -> tuple[list, list]:
    """Encoded training and validation examples (tokenized once, see ftlab.data.token_cache); chat rows with nothing to
    learn (cut away) are dropped."""
    fmt, labels, task = splits.dataset.format, splits.dataset.labels, tasks.get(cfg.task)
    index = {name: i for i, name in enumerate(labels)}

    def encode_all(rows):
        examples = [e for r in rows for e in task.encode(tok, fmt, r, cfg.train.max_length, index,
                                                         cfg.data.train_on_prompt)]
        return [e for e in examples if "label" in e or any(x != encode.IGNORE for x in e["labels"])]

    key = token_cache.key(train=splits.train, val=splits.val, fmt=fmt, labels=labels, max_length=cfg.train.max_length,
                          task=cfg.task,
                          train_on_prompt=cfg.data.train_on_prompt, tokenizer=token_cache.tokenizer_fingerprint(model_dir))
    train, val = token_cache.cached(key, lambda: [encode_all(splits.train), encode_all(splits.val)])
    return train, val


def setup(cfg: RunConfig, device: str | None = None) -> Setup:
    """Load data, tokenizer and model, and apply the method."""
    import torch

    problems = cfg.validate()
    if problems:
        raise ValueError("; ".join(problems))
    splits = data_mod.load_splits(cfg.data, cfg.train.seed)
    ds, task = splits.dataset, tasks.get(cfg.task)
    if ds.task != cfg.task:
        raise ValueError(f"{ds.path.name} is {ds.format} data (task {ds.task}), but the run's task is {cfg.task}")
    method = methods.get(cfg.method)
    if method.unavailable():
        raise RuntimeError(f"{method.label} cannot run here: {method.unavailable()}")
    device = device or modeling.device()
    threads.configure()
    dtype = precision.autocast_dtype(cfg.train.precision, device)
    where = modeling.resolve(cfg.model_ref()).path
    earlier = RunDir(cfg.start_from) if cfg.start_from else None
    tok = modeling.load_tokenizer(where, cfg.trust_remote_code)
    if earlier is not None and not method.adapter:  # its full weights are where this run starts
        where = earlier.model_dir
    train, val = _examples(cfg, splits, tok, where)
    quant = method.quantization(cfg, dtype or torch.float32)
    with modeling.building:
        torch.manual_seed(cfg.train.seed)  # the same seed gives the same run: adapter init, head init, dropout
        model = task.load_model(where, labels=ds.labels, quantization=quant, seed=cfg.train.seed,
                                    trust_remote_code=cfg.trust_remote_code)
        if task.labelled and model.config.pad_token_id is None:
            model.config.pad_token_id = tok.pad_token_id
        if quant is None:
            model.to(device)
        model = method.continue_from(model, earlier.adapter_dir, cfg) if earlier else method.apply(model, cfg)
    return Setup(model, tok, train, val, ds.labels, dtype, device, task.cases(ds.format, splits.val, ds.labels), task)


def tensors(s: Setup, rows: list[dict]) -> dict:
    """A padded batch of encoded rows, on the training device."""
    return {k: v.to(s.device) for k, v in s.task.collate(rows, s.tokenizer.pad_token_id).items()}


def total_steps(cfg: RunConfig, n_train: int, processes: int = 1) -> tuple[int, int]:
    batches = math.ceil(n_train / cfg.train.batch_size)
    per_epoch = max(1, math.ceil(batches / (cfg.train.grad_accum * processes)))
    total = cfg.train.max_steps or max(1, math.ceil(cfg.train.epochs * per_epoch))
    return min(total, cfg.train.step_limit or total), per_epoch


def batches(cfg: RunConfig, s: Setup, group: parallel.Group):
    """Endless stream of length-grouped batches, reshuffled each epoch; each process of a data-parallel group
    takes every n-th one."""
    epoch, index = 0, 0
    while True:
        for batch in encode.length_grouped_batches(s.train, cfg.train.batch_size, cfg.train.seed + epoch):
            if index % group.world == group.rank:
                yield batch
            index += 1
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
