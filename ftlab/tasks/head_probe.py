"""A classifier's new head started as a linear probe ("LP-FT": Kumar et al., 2022, Fine-Tuning can Distort
Pretrained Features and Underperform Out-of-Distribution): before the first step, a multinomial logistic
regression is fitted on the base model's features (the input of the head's last linear layer) of up to `SAMPLE`
training rows, and the head starts from it instead of from random weights. The run then trains as it would.

Asked for with `classify.head_init: probe`. A random head starts at chance and the body's first steps chase it; on
the bundled sentiment set with MiniLM the probed head starts at 61 % and every point of the hand-run grid ended as
high or higher (its mean 83.0 % -> 89.7 %; benchmarks/RESULTS.md, "A classifier's head as a linear probe"). The
fit is kept in `$FTLAB_HOME/head_probes/<key>.safetensors`, keyed by what it depends on (the base weights, the
sampled rows as tokenized, labels, seed, precision), so trials of a study and runs on the same data fit it once.

Written here (scikit-learn, the test's oracle, is not a run-time dependency): an L2-regularised softmax regression on
a few thousand feature vectors is a few lines of torch's L-BFGS on features that are torch tensors already.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil

from ftlab import modeling, paths

SAMPLE = 2000
"""At most this many training rows (drawn with the run's seed) are read for the probe."""
BASE_HEAD = "base_head.safetensors"
"""A probed run's fit, in its folder: the head its base answers with when served."""
L2 = 1e-3
"""The probe's L2 penalty on its weights, beside the mean loss over rows (so it weighs alike whatever their number)."""


def head_layers(model, n_labels: int) -> list:
    """The head's last linear layers (out_features = the labels): the base's and, under an adapter, its trained copy."""
    import torch

    return [m for name, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.out_features == n_labels
            and any(part in ("classifier", "score") for part in name.split("."))]


def digest(model, n_labels: int) -> str:
    """A hash of the head's weights as they start (a random head's, or a probe's): a cache key's part."""
    h = hashlib.sha256()
    for layer in head_layers(model, n_labels) if n_labels else []:
        for param in layer.parameters():
            h.update(param.detach().float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def start(model, examples: list, cfg, device: str, autocast, pad_id: int, reference, progress) -> None:
    """Set the head of `model` to the probe fitted on `examples` (a sample of them; the fit kept from an earlier run
    when there is one), seen through `reference` ((model, context): the base as the method sees it). Nothing to do
    without a head or with rows of one label."""
    import torch

    layers = head_layers(model, getattr(model.config, "num_labels", 0))
    if not layers or len({e["label"] for e in examples}) < 2:
        return
    rows = sample(cfg, examples)
    path = cached(cfg, rows, device, autocast)
    found = load(path) if path.is_file() else None
    if found is None:
        feats = features(reference, layers, rows, pad_id, device, autocast, progress)
        found = fit(feats, torch.tensor([e["label"] for e in rows]), layers[0].out_features,
                    bias=layers[0].bias is not None)
        path.parent.mkdir(parents=True, exist_ok=True)
        _save(path, found)
    apply(model, found)


def apply(model, found: dict) -> None:
    """Put a fit ({"weight", "bias"}) into every copy of the model's head."""
    import torch

    with torch.no_grad():
        for layer in head_layers(model, getattr(model.config, "num_labels", 0)):
            layer.weight.copy_(found["weight"].to(layer.weight.dtype))
            if layer.bias is not None:
                layer.bias.copy_(found["bias"].to(layer.bias.dtype))


def sample(cfg, examples: list) -> list:
    """The training rows the probe reads: at most `SAMPLE`, drawn with the run's seed."""
    return random.Random(cfg.train.seed).sample(examples, min(SAMPLE, len(examples)))


def cached(cfg, rows: list, device: str, autocast):
    """Where the fit on `rows` is kept."""
    return paths.home() / "head_probes" / f"{key(cfg, rows, device, autocast)}.safetensors"


def keep(cfg, examples: list, device: str, autocast, run_path) -> None:
    """Copy the run's fit into its folder (`BASE_HEAD`), so that serving its base answers as the run's evaluation of
    the base did."""
    found = cached(cfg, sample(cfg, examples), device, autocast)
    if found.is_file():
        shutil.copyfile(found, run_path / BASE_HEAD)


def kept(run_path):
    """The fit a run's base started from (a path), or None (a random head)."""
    path = run_path / BASE_HEAD
    return path if path.is_file() else None


def load(path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def features(reference, layers: list, rows: list, pad_id: int, device: str, autocast, progress):
    """The input of the head's last linear layer for each row (float32, rows x features), in the rows' order."""
    import torch

    from ftlab.data import encode

    model, context = reference
    caught = []
    hooks = [layer.register_forward_hook(lambda mod, args, out: caught.append(args[0].detach().float()))
             for layer in layers]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    out = [None] * len(rows)
    try:
        with torch.no_grad(), context(), autocast():
            for i in range(0, len(order), 32):
                at = order[i : i + 32]
                batch = encode.collate([rows[j] for j in at], pad_id)
                batch.pop("labels", None)
                caught.clear()
                model(**{k: v.to(device) for k, v in batch.items()})
                found = caught[-1]
                if found.dim() == 3:  # a decoder's head reads every position; its logits are the last real token's
                    last = batch["attention_mask"].sum(1) - 1
                    found = found[torch.arange(len(at)), last.to(found.device)]
                for j, vector in zip(at, found):
                    out[j] = vector
                progress(len(at))
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(out).cpu()


def fit(feats, labels, n_labels: int, bias: bool = True) -> dict:
    """Softmax regression of `labels` on `feats` (L-BFGS; the penalty `L2` on the weights, none on the bias): the
    head's weight and bias (zeros for a head without one, as a decoder's `score` is)."""
    import torch

    w = torch.zeros(n_labels, feats.shape[1], requires_grad=True)  # zeros: the fit draws nothing from the run's
    b = torch.zeros(n_labels, requires_grad=bias)  # random stream, so a fitted and a reused probe train alike
    opt = torch.optim.LBFGS([w, b] if bias else [w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(feats @ w.T + b, labels) + L2 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return {"weight": w.detach(), "bias": b.detach()}


def key(cfg, rows: list, device: str, autocast) -> str:
    """What the probe depends on, hashed: the base model's weights, the rows as tokenized with their labels, the
    seed, max length, the precision the features are computed in, and the device."""
    import torch

    with autocast():
        dtype = str(torch.get_autocast_dtype(device)) if torch.is_autocast_enabled(device) else "float32"
    facts = {"model": cfg.model_ref(), "weights": modeling.weight_files(cfg.model_ref()), "seed": cfg.train.seed,
             "max_length": cfg.train.max_length, "precision": dtype, "device": device, "l2": L2,
             "rows": [[list(map(int, e["input_ids"])), int(e["label"])] for e in rows]}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _save(path, found: dict) -> None:
    from safetensors.torch import save_file

    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in found.items()}, str(tmp))
    tmp.replace(path)

