"""The model card: README.md in the run directory, written when a run saves its weights.

It says what was trained from what (base model, method, data with its SHA-256), how (every hyperparameter and
the seed), how it compares with the base model on the validation split, and with which library versions.
"""

from __future__ import annotations

import importlib.metadata

import yaml

from ftlab import data as data_mod
from ftlab import methods
from ftlab.train.checkpoints import sha256
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir

LIBRARIES = ("ftlab", "torch", "transformers", "peft", "accelerate", "bitsandbytes", "evaluate", "gradio")


def versions() -> dict:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed" if name != "ftlab" else "source checkout"
    return out


def _value(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _metrics(report: dict) -> list[str]:
    if not report:
        return ["No validation split, so no comparison with the base model."]
    lines = [f"On {report['rows_compared']} validation rows, at step {report['step']}:", "",
             "| metric | base | tuned | delta |", "| --- | --- | --- | --- |"]
    for k, base in report["base"].items():
        tuned, delta = report["tuned"].get(k), report["delta"].get(k)
        lines.append(f"| {k} | {_value(base)} | {_value(tuned)} | {'' if delta is None else f'{delta:+.4f}'} |")
    if report.get("changes"):
        lines += ["", "Predictions " + ", ".join(f"{k}: {v}" for k, v in report["changes"].items()) + "."]
    return lines


def text(cfg: RunConfig, run_id: str, s, report: dict) -> str:
    path = data_mod.resolve_path(cfg.data.path)
    method = methods.get(cfg.method)
    lines = [f"# {cfg.name or run_id}", "", f"Fine-tuned with ftlab from **{cfg.model_ref()}** by "
             f"**{method.label}** for the **{cfg.task}** task.", "", "## Data", "",
             f"- file: `{path.name}` (SHA-256 `{sha256(path)}`)", f"- format: {cfg.data.format or 'detected'}",
             f"- rows: {len(s.train)} training examples, {len(s.val)} validation"]
    if s.labels:
        lines.append(f"- labels: {', '.join(s.labels)}")
    lines += ["", "## Results", "", *_metrics(report), "", "## Training settings", "", f"Seed {cfg.train.seed}.", "",
              "```yaml", yaml.safe_dump({k: v for k, v in cfg.to_dict().items() if k != "data"}, sort_keys=False)
              .strip(), "```", "", "## Libraries", ""]
    lines += [f"- {name} {version}" for name, version in versions().items()]
    return "\n".join(lines) + "\n"


def write(run: RunDir, cfg: RunConfig, s, report: dict) -> None:
    tmp = run.path / ".README.md.tmp"
    tmp.write_text(text(cfg, run.id, s, report), encoding="utf-8")
    tmp.replace(run.path / "README.md")
