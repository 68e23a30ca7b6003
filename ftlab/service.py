"""Lab: the one object the UI and the HTTP API call. Plain types in and out, ids instead of objects.

It owns the JobManager (training) and the ModelServer (inference). Every public method here is also a stable
Gradio API endpoint (see ftlab/ui/endpoints.py and the README).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from pathlib import Path

from ftlab import data, formats, insight, methods, modeling, paths, plan
from ftlab.config import DEFAULT_MODELS, RunConfig
from ftlab.generate import GenConfig
from ftlab.infer import ModelServer
from ftlab.jobs import JobManager
from ftlab.runs import RunDir

# What a run costs to start from the UI: the sample data trains in a few minutes on a CPU.
TASK_DEFAULTS = {
    "chat": {"learning_rate": 2e-4, "epochs": 3.0, "batch_size": 4, "max_length": 256},
    "classify": {"learning_rate": 5e-4, "epochs": 4.0, "batch_size": 16, "max_length": 128},
}


class Lab:
    def __init__(self):
        self.server = ModelServer(training=self._training)
        self.jobs = JobManager(on_finish=lambda job: self.server.forget(job.run.id))

    def _training(self) -> dict | None:
        """The live training run's status (with its ETA), or None: inference loads nothing that would starve it."""
        run_id = self.jobs.active_id()
        return {**RunDir(run_id).status(), "run_id": run_id} if run_id else None

    # data ---------------------------------------------------------------------------------------------------
    @staticmethod
    def samples() -> list[dict]:
        return [{"name": k, "task": t, "description": d} for k, (_, t, d) in data.SAMPLES.items()]

    @staticmethod
    def formats() -> list[dict]:
        return [{"name": f.name, "task": f.task, "fields": list(f.fields), "needed": list(f.needed)}
                for f in formats.FORMATS.values()]

    @staticmethod
    def inspect(path: str, format: str = "", columns: dict | None = None, val_path: str = "") -> dict:
        """Read and validate a dataset (a file path or a sample name) with an optional format and column mapping;
        problems come back, not raised, with the file's columns so they can be mapped."""
        try:
            ds = data.load(path, fmt=format, columns=columns)
            val = data.load_validation(val_path, ds, columns) if val_path else None
        except data.DataError as exc:
            return {"ok": False, "problems": exc.problems, "columns": exc.columns,
                    "summary": "Problems:\n" + "\n".join(f"- {p}" for p in exc.problems[:20])
                    + (f"\n- ... and {len(exc.problems) - 20} more" if len(exc.problems) > 20 else "")}
        summary = data.summary(ds) + (f"\n\nValidation file: {data.summary(val)}" if val else "")
        return {"ok": True, "format": ds.format, "task": ds.task, "reason": ds.reason, "rows": len(ds.rows),
                "labels": ds.labels, "summary": summary, "preview": data.preview(ds), "columns": ds.columns,
                "mapping": ds.mapping, "default_model": DEFAULT_MODELS[ds.task]}

    @staticmethod
    def insight(path: str, model: str, max_length: int, options: dict | None = None) -> dict:
        """Rows per split, token lengths, rows over max_length, label counts and a loss-marked example (see
        ftlab.insight); `options` holds data settings (format, columns, val_path, val_fraction)."""
        return insight.analyse(path, model, max_length, options)

    @staticmethod
    def keep_upload(temp_path: str) -> str:
        """Copy an upload out of the web server's temporary files into $FTLAB_HOME/uploads/<content hash>/,
        so the run's config.yaml still points at it later."""
        source = Path(temp_path)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        kept = paths.uploads_dir() / digest / source.name  # the user's own file name, for every message
        if not kept.exists():
            kept.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, kept)
        return str(kept)

    # training -----------------------------------------------------------------------------------------------
    @staticmethod
    def build_config(task: str, data_path: str, model: str = "", method: str = "lora", **settings) -> RunConfig:
        """A RunConfig with the task's defaults, overridden by `settings`: TrainConfig or DataConfig fields by name,
        method sections dotted (`lora.r`, `freeze.last_layers`, `quant.bits`, `prompt.virtual_tokens`)."""
        cfg = RunConfig(task=task, model=model, method=method)
        cfg.data.path = data_path
        chosen = {k: v for k, v in settings.items() if v is not None}
        for key, value in {**TASK_DEFAULTS.get(task, {}), **chosen}.items():
            if key == "trust_remote_code":
                cfg.trust_remote_code = bool(value)
                continue
            section, name = _section(cfg, key)
            current = getattr(section, name)
            if isinstance(current, list) and isinstance(value, str):  # one item per line (probe prompts)
                value = [line.strip() for line in value.splitlines() if line.strip()]
            setattr(section, name, type(current)(value) if isinstance(current, (int, float, str)) else value)
        return cfg

    @staticmethod
    def estimate(config: dict, fetch: bool = True) -> dict:
        """Trainable parameters (count and %) and a memory estimate for a RunConfig dict, before it starts.
        With `fetch` False, a model not on this machine yet is not downloaded or converted (modeling.NotFetched)."""
        return plan.estimate(RunConfig.from_dict(config), fetch)

    def start(self, config: dict) -> str:
        """Queue a run from a RunConfig dict; returns the run id (it waits while another run trains).
        Raises jobs.Busy when the queue is full, or ValueError: a bad setting, a model that can't be found or
        LoRA targets it lacks are reported now, not after the run has waited its turn in the queue."""
        cfg = RunConfig.from_dict(config)
        problems = cfg.validate()
        if problems:
            raise ValueError("; ".join(problems))
        try:
            plan.estimate(cfg)
        except (modeling.ModelNotFound, ValueError, OSError) as exc:
            raise ValueError(str(exc)) from None
        return self.jobs.start(cfg)

    def resume(self, run_id: str) -> str:
        """Queue a stopped, interrupted or failed run to go on from its last checkpoint."""
        return self.jobs.resume(run_id)

    def cancel(self, run_id: str) -> bool:
        """Take a waiting run out of the queue, or end the running one without saving."""
        return self.jobs.cancel(run_id)

    def status(self, run_id: str) -> dict:
        return self.jobs.snapshot(run_id)

    def stop(self, run_id: str) -> bool:
        return self.jobs.stop(run_id)

    def runs(self) -> list[dict]:
        return self.jobs.runs()

    @staticmethod
    def probe_answers(run_id: str) -> list[dict]:
        """The probe answers of a run: {step, probe, prompt, base, tuned} per probe and evaluation."""
        run = RunDir(run_id)
        return run.metrics("samples") if run.exists() else []

    @staticmethod
    def run_config(run_id: str) -> dict:
        run = RunDir(run_id)
        return run.config().to_dict() if run.exists() else {}

    @staticmethod
    def export_zip(run_id: str, merge: bool = False) -> str:
        """A zip of the run's adapter (or, with `merge`, the base with the adapter folded in), with its model card."""
        import tempfile

        from ftlab.export import zip_export

        folder = Path(tempfile.mkdtemp(prefix="ftlab-export-"))
        return str(zip_export(run_id, folder / f"{run_id}{'-merged' if merge else ''}.zip", merge))

    @staticmethod
    def push_to_hub(run_id: str, repo_id: str, token: str, merge: bool = False, private: bool = True) -> str:
        """Upload the adapter (or merged model) and its card to a Hub repo; the token is used in memory only."""
        from ftlab.export import push_to_hub

        return push_to_hub(run_id, repo_id, token, merge, private)

    @staticmethod
    def vote(run_id: str, record: dict) -> None:
        """Keep a blind A/B vote with the run (votes.jsonl): {winner: base|tuned|tie|both bad, prompt, base, tuned}."""
        RunDir(run_id).append_metrics({**record, "time": time.time()}, log="votes")

    @staticmethod
    def preference_pairs_jsonl(run_id: str) -> str:
        """The run's decided votes as DPO preference pairs, one JSON object per line: prompt (the conversation
        before the reply, as messages), chosen, rejected."""
        lines = []
        for v in RunDir(run_id).metrics("votes"):
            if v["winner"] in ("base", "tuned"):
                loser = "tuned" if v["winner"] == "base" else "base"
                lines.append(json.dumps({"prompt": v["prompt"], "chosen": v[v["winner"]], "rejected": v[loser]},
                                        ensure_ascii=False))
        return "".join(line + "\n" for line in lines)

    @staticmethod
    def report(run_id: str) -> dict:
        """A finished run's base-vs-tuned report (report.json), or {} when it has none."""
        run = RunDir(run_id)
        return (run.read_json("report.json") or {}) if run.exists() else {}

    def current_run(self) -> str | None:
        """The training run, else the newest run: what a freshly loaded page should show."""
        active = self.jobs.active_id()
        if active:
            return active
        runs = self.runs()
        return runs[0]["run_id"] if runs else None

    @staticmethod
    def methods() -> list[dict]:
        return [{"name": m.name, "label": m.label, "help": m.help, "unavailable": m.unavailable()}
                for m in methods.METHODS.values()]

    # inference ----------------------------------------------------------------------------------------------
    def chat_stream(self, run_id, base_history, tuned_history, temperature=0.7, top_p=0.9, max_new_tokens=128,
                    base_ref=""):
        gen = GenConfig(max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_p=float(top_p))
        yield from self.server.chat_stream(run_id or None, base_history, tuned_history, gen, base_ref)

    def chat(self, run_id: str, message: str, system_prompt: str = "", temperature: float = 0.0, top_p: float = 0.9,
             max_new_tokens: int = 128) -> dict:
        gen = GenConfig(max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_p=float(top_p))
        return self.server.chat(run_id or None, message, system_prompt, gen)

    def classify_file(self, run_id: str, path: str) -> dict:
        """Base and tuned labels for every text of a file: {"rows", "csv" (a path), "summary"}."""
        from ftlab.batch import classify_file

        rows, csv_path = classify_file(lambda texts: self.classify(run_id, texts), path)
        agree = sum(r["agree"] for r in rows)
        summary = f"{len(rows)} texts; base and tuned agree on {agree} ({100 * agree / len(rows):.0f} %)."
        if "label" in rows[0]:
            right = {side: sum(r[f"{side}_right"] for r in rows) for side in ("base", "tuned")}
            summary += " Against the file's labels: " + ", ".join(
                f"{side} {n}/{len(rows)} right ({100 * n / len(rows):.0f} %)" for side, n in right.items()) + "."
        return {"rows": rows, "csv": str(csv_path), "summary": summary}

    def classify(self, run_id: str, texts: list) -> list[dict]:
        return self.server.classify(run_id, texts)


def _section(cfg: RunConfig, key: str):
    """The config section and field a setting names: `epochs` (train), `format` (data), `lora.r`..."""
    if "." in key:
        head, name = key.split(".", 1)
        section = getattr(cfg, head, None)
        if section is None or not dataclasses.is_dataclass(section) or not hasattr(section, name):
            raise ValueError(f"unknown setting {key!r}")
        return section, name
    for section in (cfg.train, cfg.data):
        if hasattr(section, key) and key != "path":
            return section, key
    raise ValueError(f"unknown setting {key!r}")
