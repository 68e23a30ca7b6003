"""Lab: the one object the UI and the HTTP API call. Plain types in and out, ids instead of objects.

It owns the JobManager (training) and the ModelServer (inference). Every public method here is also a stable
Gradio API endpoint (see ftlab/app/ui/endpoints.py and the README).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from ftlab import data, methods, modeling, paths, tasks
from ftlab.app import owners, texts
from ftlab.app.budgets import DEMO_LIMITS, SHARED_LIMITS
from ftlab.app.exports import Exports
from ftlab.app.tuning import Tuning
from ftlab.app.votes import Votes, owned
from ftlab.config import RunConfig
from ftlab.data import formats, insight
from ftlab.i18n import t
from ftlab.runs.jobs import JobManager
from ftlab.runs.run_dir import RUN_ID, RunDir, owner_key
from ftlab.runs.study import Studies
from ftlab.serve.generation import GenConfig
from ftlab.serve.model_server import MAX_INPUTS, ModelServer
from ftlab.train import plan


def gradio_temp_dir() -> Path:
    """Where the web server puts uploads before the app keeps them."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


class Lab(Votes, Tuning, Exports):
    def __init__(self, shared: bool = False, limits: dict | None = None, demo: bool = False):
        """`shared`: several people use this app (see ftlab.app.owners); each sees, stops and downloads only their own
        runs and uploads, and every run is held to `limits` ({"steps", "minutes"}, see SHARED_LIMITS). `demo`: a
        shared public demo on a CPU (DEMO_LIMITS: shorter runs, a memory cap)."""
        self.shared, self.demo = shared or demo, demo
        self.limits = {**(DEMO_LIMITS if demo else SHARED_LIMITS), **(limits or {})} if self.shared else {}
        self.server = ModelServer(max_loaded=int(os.environ.get("FTLAB_MAX_LOADED", 2)), training=self._training)
        self.jobs = JobManager(on_finish=lambda job: self.server.forget(job.run.id),
                               per_owner=self.limits.get("waiting", 0))
        self.studies = Studies(self.jobs, self.queue)
        self.studies.resume_unfinished()

    def _training(self) -> dict | None:
        """The live training run's status (with its ETA), or None: inference loads nothing that would starve it."""
        run_id = self.jobs.active_id()
        return {**RunDir(run_id).status(), "run_id": run_id} if run_id else None

    # who may see what (shared mode) -------------------------------------------------------------------------
    def check_owner(self, run_id: str | None) -> None:
        """ValueError("no run ...") unless the caller may see `run_id`: a run that is missing and one that is
        someone else's get the same answer."""
        if not self.visible(run_id):
            raise ValueError(f"no run {run_id}")

    def visible(self, run_id: str | None) -> bool:
        """Always outside shared mode, and for an empty id (a base model, anyone's); else only one's own runs."""
        if not self.shared or not run_id or owners.is_operator():
            return True
        return bool(RUN_ID.match(run_id)) and RunDir(run_id).owned_by(owners.current())

    def owner(self) -> str | None:
        """Who a new run or upload belongs to: the caller in shared mode (the operator's are nobody's)."""
        return None if not self.shared or owners.is_operator() else owners.current()

    def check_model(self, ref: str) -> None:
        """Shared mode takes only a Hugging Face Hub id, a bundled model or a folder the operator lists in
        FTLAB_MODEL_DIRS, never another folder on the server (another user's tuned weights are folders under the
        runs folder). ValueError says what is accepted."""
        if not self.shared or not ref or owners.is_operator() or modeling.hub_id(ref) or modeling.operator_folder(ref):
            return
        raise ValueError(f"model {modeling.short(ref)}: on this shared server a model is a Hugging Face Hub id "
                         "(owner/name) or a bundled model, not a folder")


    def check_against(self, ref: str) -> None:
        """What answers next to a run: another run the caller may see, or a model (see check_model)."""
        if RUN_ID.match(ref or ""):
            self.check_owner(ref)
        else:
            self.check_model(ref)

    def uploads_folder(self) -> Path:
        """Where the caller's uploads are kept: one folder per owner in shared mode."""
        who = self.owner()
        if self.shared and not owners.is_operator():
            if not who:
                raise ValueError("uploads need a browser session")
            return paths.uploads_dir() / owner_key(who)
        return paths.uploads_dir()

    def check_data_path(self, path: str, fresh_upload: bool = False) -> None:
        """Shared mode reads only samples and the caller's own uploads (`fresh_upload`: or a file the web server
        has just received), never other files on the server."""
        if not self.shared or not path or path in data.SAMPLES or owners.is_operator():
            return
        where = Path(path).resolve()
        if fresh_upload and where.is_relative_to(gradio_temp_dir().resolve()):
            return
        if not where.is_relative_to(self.uploads_folder().resolve()):
            raise ValueError(f"{Path(path).name}: upload the file first (only your uploads and the samples can be used)")

    def scratch_dir(self, prefix: str) -> Path:
        """A new folder for a file handed to the caller (a zip, a CSV): in shared mode under the caller's own
        scratch folder, which goes when the session ends; else in the system's temporary folder."""
        who = self.owner()
        parent = None
        if who:
            parent = paths.home() / "scratch" / owner_key(who)
            parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))

    def end_session(self, owner: str | None) -> None:
        """A browser session ended: its uploads and the files made for it go (anonymous sessions only: a
        logged-in user comes back)."""
        if self.shared and owner:
            shutil.rmtree(paths.uploads_dir() / owner_key(owner), ignore_errors=True)
            shutil.rmtree(paths.home() / "scratch" / owner_key(owner), ignore_errors=True)

    # data ---------------------------------------------------------------------------------------------------
    @staticmethod
    def samples() -> list[dict]:
        return [{"name": k, "task": t, "description": d} for k, (_, t, d) in data.SAMPLES.items()]

    @staticmethod
    def formats() -> list[dict]:
        return [{"name": f.name, "task": f.task, "fields": list(f.fields), "needed": list(f.needed)}
                for f in formats.FORMATS.values()]

    def inspect(self, path: str, format: str = "", columns: dict | None = None, val_path: str = "") -> dict:
        """Read and validate a dataset (a file path or a sample name) with an optional format and column mapping;
        problems come back, not raised, with the file's columns so they can be mapped."""
        try:
            self.check_data_path(path)
            self.check_data_path(val_path)
        except ValueError as exc:
            return {"ok": False, "problems": [str(exc)], "columns": [], "summary": t("data.problems") + f"\n- {exc}"}
        try:
            ds = data.load(path, fmt=format, columns=columns)
            val = data.load_validation(val_path, ds, columns) if val_path else None
        except data.DataError as exc:
            return {"ok": False, "problems": exc.problems, "columns": exc.columns,
                    "summary": t("data.problems") + "\n"
                    + "\n".join(f"- {texts.problem(p)}" for p in exc.problems[:20])
                    + ("\n- " + t("data.more_problems", n=len(exc.problems) - 20) if len(exc.problems) > 20 else "")}
        summary = texts.dataset_summary(ds) + (f"\n\n{t('data.validation_file')} {texts.dataset_summary(val)}"
                                               if val else "")
        return {"ok": True, "format": ds.format, "task": ds.task, "reason": ds.reason, "rows": len(ds.rows),
                "labels": ds.labels, "summary": summary, "preview": data.preview(ds),
                "preview_headers": list(formats.FORMATS[ds.format].headers), "columns": ds.columns,
                "mapping": ds.mapping, "default_model": tasks.get(ds.task).default_model, "label_like": ds.label_like}

    def insight(self, path: str, model: str, max_length: int, options: dict | None = None) -> dict:
        """Rows per split, token lengths, rows over max_length, label counts and a loss-marked example (see
        ftlab.data.insight); `options` holds data settings (format, columns, val_path, val_fraction)."""
        self.check_data_path(path)
        self.check_data_path((options or {}).get("val_path", ""))
        self.check_model(model)
        return insight.analyse(path, model, max_length, options)

    def keep_upload(self, temp_path: str) -> str:
        """Copy an upload out of the web server's temporary files into $FTLAB_HOME/uploads/<content hash>/ (in
        shared mode, the caller's own folder; the temporary copy is then deleted, so its URL serves nothing), so
        the run's config.yaml still points at it later."""
        source = Path(temp_path)
        if self.shared and not source.resolve().is_relative_to(gradio_temp_dir().resolve()):
            raise ValueError(f"{source.name}: not an upload")
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
        kept = self.uploads_folder() / digest / source.name  # the user's own file name, for every message
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, kept)
        if self.shared:
            source.unlink(missing_ok=True)
        return str(kept)

    # training -----------------------------------------------------------------------------------------------
    @staticmethod
    def build_config(task: str, data_path: str, model: str = "", method: str = "lora", **settings) -> RunConfig:
        """A RunConfig with the task's defaults, overridden by `settings`: TrainConfig or DataConfig fields by name,
        method sections dotted (`lora.r`, `freeze.last_layers`, `quant.bits`, `prompt.virtual_tokens`)."""
        cfg = RunConfig(task=task, model=model, method=method)
        cfg.data.path = data_path
        chosen = {k: v for k, v in settings.items() if v is not None}
        for key, value in {**(tasks.get(task).defaults if task in tasks.names() else {}), **chosen}.items():
            cfg.set(key, value)
        return cfg

    def estimate(self, config: dict, fetch: bool = True) -> dict:
        """Trainable parameters (count and %) and a memory estimate for a RunConfig dict, before it starts.
        With `fetch` False, a model not on this machine yet is not downloaded or converted (modeling.NotFetched)."""
        cfg = RunConfig.from_dict(config)
        self.check_remote_code(cfg)
        self.check_model(cfg.model)
        return plan.estimate(cfg, fetch)

    def check_data_fits(self, cfg: RunConfig) -> None:
        """ValueError now, not a failed run later: the data has problems, or is for another task than the run's."""
        d = cfg.data
        try:  # read as the run will read it, so the run takes the parsed rows from data.load's cache
            ds = data.load_config(d)
            if d.val_path:
                data.load_validation(d.val_path, ds, d.columns, d.max_file_mb)
        except data.DataError as exc:
            raise ValueError(t("start.data_problems", problems="; ".join(map(texts.problem, exc.problems[:3])))) from None
        if ds.task != cfg.task:
            raise ValueError(t("start.task_mismatch", data=Path(d.path).name, data_task=t(f"task.{ds.task}"),
                               task=t(f"task.{cfg.task}")))

    def check_remote_code(self, cfg: RunConfig) -> None:
        """On a shared server a model's own Python would run for anyone who asks: refused there unless the
        operator allows it (FTLAB_ALLOW_REMOTE_CODE=1)."""
        if self.shared and cfg.trust_remote_code and not os.environ.get("FTLAB_ALLOW_REMOTE_CODE"):
            raise ValueError("trust_remote_code is off on this shared server: a model's own code would run on it "
                             "for everyone (the operator can allow it with FTLAB_ALLOW_REMOTE_CODE=1)")

    def start(self, config: dict) -> str:
        """Queue a run from a RunConfig dict; returns the run id (it waits while another run trains).
        Raises jobs.Busy when the queue is full, or ValueError: a bad setting, a model that can't be found or
        LoRA targets it lacks are reported now, not after the run has waited its turn in the queue."""
        cfg = self.checked(config)
        return self.queue(cfg, self.owner())

    def checked(self, config: dict) -> RunConfig:
        """The RunConfig of a dict, after every check a start makes (ValueError saying what is wrong)."""
        cfg = RunConfig.from_dict(config)
        problems = cfg.validate()
        if problems:
            raise ValueError("; ".join(map(texts.setting_problem, problems)))
        self.check_data_path(cfg.data.path)
        self.check_data_path(cfg.data.val_path)
        self.check_remote_code(cfg)
        self.check_model(cfg.model)
        self.check_start_from(cfg)
        self.check_data_fits(cfg)
        return cfg

    def queue(self, cfg: RunConfig, owner: str | None) -> str:
        """Queue a checked config for `owner`, held to a shared server's budgets and memory cap."""
        if self.shared:  # the budget of every run on a shared server; a run's own lower limit stays
            t = cfg.train
            t.step_limit = min(t.step_limit or self.limits["steps"], self.limits["steps"])
            t.time_limit_min = min(t.time_limit_min or self.limits["minutes"], self.limits["minutes"])
        try:
            need = self.memory_need(cfg)
        except (modeling.ModelNotFound, ValueError, OSError) as exc:
            raise ValueError(str(exc)) from None
        cap = self.limits.get("memory_gb")
        if cap and need is not None and need > cap:
            raise ValueError(f"this demo runs jobs up to {cap:g} GB of estimated memory and this one needs "
                             f"{need:.1f} GB: pick a smaller model, LoRA or QLoRA, a smaller batch or max length")
        return self.jobs.start(cfg, owner)

    def memory_need(self, cfg: RunConfig) -> float | None:
        """The run's estimated memory (GB); None for a bundled model not converted yet, where no cap applies (the
        run converts it, in a phase that says so: converting here kept the page without a run for ~15 s)."""
        try:
            return plan.estimate(cfg, fetch=False)["memory_gb"]
        except modeling.NotFetched:
            if cfg.model_ref() in modeling.BUNDLED and not self.limits.get("memory_gb"):
                return None
            return plan.estimate(cfg)["memory_gb"]

    @owned
    def resume(self, run_id: str) -> str:
        """Queue a stopped, interrupted or failed run to go on from its last checkpoint."""
        return self.jobs.resume(run_id, self.owner())

    @owned
    def cancel(self, run_id: str) -> bool:
        """Take a waiting run out of the queue, or end the running one without saving."""
        return self.jobs.cancel(run_id)

    @owned
    def delete(self, run_id: str) -> None:
        """Delete a finished run and everything it saved (not undoable); a live run must be stopped first."""
        self.jobs.delete(run_id)
        self.server.forget(run_id)

    @owned
    def status(self, run_id: str) -> dict:
        return self.jobs.snapshot(run_id)

    @owned
    def stop(self, run_id: str) -> bool:
        return self.jobs.stop(run_id)

    def runs(self) -> list[dict]:
        """Every run (in shared mode, the caller's), newest first."""
        return [r for r in self.jobs.runs() if self.visible(r["run_id"])]

    @owned
    def probe_answers(self, run_id: str) -> list[dict]:
        """The probe answers of a run: {step, probe, prompt, base, tuned} per probe and evaluation."""
        run = RunDir(run_id)
        return run.metrics("samples") if run.exists() else []

    def import_adapter(self, path: str, base: str = "") -> str:
        """Import a PEFT adapter (a zip or folder with adapter_config.json and adapter_model.safetensors; pickled
        weights are refused) as a run over `base` (default: the base its config names); returns the run id."""
        from ftlab.runs.import_adapter import import_adapter

        self.check_data_path(path, fresh_upload=True)
        return import_adapter(path, base, self.owner(), check_base=self.check_model)

    @owned
    def run_config(self, run_id: str) -> dict:
        run = RunDir(run_id)
        try:
            return run.config().to_dict() if run.exists() else {}
        except (OSError, ValueError):  # a damaged config: the runs list says what is wrong with it
            return {}

    @owned
    def report(self, run_id: str) -> dict:
        """A finished run's base-vs-tuned report (report.json), or {} when it has none."""
        run = RunDir(run_id)
        return (run.read_json("report.json") or {}) if run.exists() else {}

    def current_run(self) -> str | None:
        """The training run, else the newest run: what a freshly loaded page should show."""
        active = self.jobs.active_id()
        if active and self.visible(active):
            return active
        runs = self.runs()
        return runs[0]["run_id"] if runs else None

    @staticmethod
    def methods() -> list[dict]:
        return [{"name": m.name, "label": m.label, "help": m.help, "unavailable": m.unavailable(),
                 "settings": list(m.settings)}
                for m in methods.METHODS.values()]

    # inference ----------------------------------------------------------------------------------------------
    @owned
    def chat_stream(self, run_id, base_history, tuned_history, temperature=0.7, top_p=0.9, max_new_tokens=128,
                    base_ref="", against="", runtime=""):
        """Base and tuned replies as they grow; `against` (another run of the caller's, or a model) answers in the
        base's place; `runtime` "llama.cpp" answers both from GGUF files (see ModelServer.chat_stream)."""
        self.check_model(base_ref)
        self.check_against(against)
        gen = GenConfig(max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_p=float(top_p))
        yield from self.server.chat_stream(run_id or None, base_history, tuned_history, gen, base_ref, against,
                                           runtime)

    @owned
    def chat(self, run_id: str, message: str, system_prompt: str = "", temperature: float = 0.0, top_p: float = 0.9,
             max_new_tokens: int = 128, against: str = "") -> dict:
        self.check_against(against)
        gen = GenConfig(max_new_tokens=int(max_new_tokens), temperature=float(temperature), top_p=float(top_p))
        return self.server.chat(run_id or None, message, system_prompt, gen, against=against)

    @owned
    def classify_file(self, run_id: str, path: str) -> dict:
        """Base and tuned labels for every text of a file: {"rows", "csv" (a path), "summary"}."""
        from ftlab.serve.batch_classify import classify_file

        self.check_data_path(path, fresh_upload=True)
        rows, csv_path = classify_file(lambda texts: self.classify(run_id, texts), path,
                                       folder=self.scratch_dir("ftlab-batch-"), chunk=MAX_INPUTS)
        agree = sum(r["agree"] for r in rows)
        summary = f"{len(rows)} texts; base and tuned agree on {agree} ({100 * agree / len(rows):.0f} %)."
        if "label" in rows[0]:
            right = {side: sum(r[f"{side}_right"] for r in rows) for side in ("base", "tuned")}
            summary += " Against the file's labels: " + ", ".join(
                f"{side} {n}/{len(rows)} right ({100 * n / len(rows):.0f} %)" for side, n in right.items()) + "."
        return {"rows": rows, "csv": str(csv_path), "summary": summary}

    @owned
    def classify(self, run_id: str, texts: list) -> list[dict]:
        return self.server.classify(run_id, texts)
