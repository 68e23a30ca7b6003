"""Stable Gradio API endpoints (callable with gradio_client). Names and arguments are documented in the README.

Each is a thin, fully typed wrapper over a Lab method; errors come back as gr.Error messages, with file names but
no server paths (ftlab.app.redact).
"""

from __future__ import annotations

import gradio as gr

from ftlab.app import redact
from ftlab.runs.jobs import Busy
from ftlab.app.lab import Lab


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (Busy, ValueError, KeyError, FileNotFoundError) as exc:
        raise gr.Error(redact.paths(str(exc))) from None
    except Exception as exc:  # noqa: BLE001 - any failure becomes a clear message to the caller
        raise gr.Error(redact.paths(f"{type(exc).__name__}: {exc}")) from None


def register(lab: Lab) -> None:
    """Add the endpoints to the Blocks being built."""

    def samples() -> list[dict]:
        """Bundled sample datasets: name, task, description."""
        return lab.samples()

    def inspect_data(path: str, format: str = "", columns: dict | None = None, val_path: str = "") -> dict:
        """Validate a dataset (file path on the server, or a sample name), optionally with a format and a column
        mapping (field -> column): format, reason, rows, columns, mapping, preview; or every problem."""
        return _call(lab.inspect, path, format, columns, val_path)

    def formats() -> list[dict]:
        """The dataset formats: name, task, fields and the fields each needs."""
        return lab.formats()

    def start_training(task: str, data: str, model: str = "", method: str = "lora",
                       settings: dict | None = None) -> str:
        """Queue a run (it starts when the runs before it have finished); returns its run id. `settings` overrides training fields (epochs, max_steps, learning_rate,
        batch_size, max_length, seed, ...) and data fields (format, columns, val_path, val_fraction, ...).
        Fails with a 'busy' message when the queue is full."""
        cfg = _call(lab.build_config, task, data, model, method, **(settings or {}))
        return _call(lab.start, cfg.to_dict())

    def status(run_id: str) -> dict:
        """State (queued, running, stopping, completed, stopped, cancelled, failed, interrupted), queue_position
        while queued, step, losses, metrics."""
        return _call(lab.status, run_id)

    def stop_training(run_id: str) -> bool:
        """Ask a running run to stop after its current step and save its weights."""
        return _call(lab.stop, run_id)

    def cancel_training(run_id: str) -> bool:
        """Take a waiting run out of the queue, or end the running one at once without saving it."""
        return _call(lab.cancel, run_id)

    def resume_training(run_id: str) -> str:
        """Queue a stopped, interrupted or failed run to go on from its last checkpoint (same run id)."""
        return _call(lab.resume, run_id)

    def delete_run(run_id: str) -> None:
        """Delete a finished run and everything it saved (a queued or running run must be stopped first)."""
        _call(lab.delete, run_id)

    def runs() -> list[dict]:
        """Every run, newest first (on a shared server, the caller's own)."""
        return _call(lab.runs)

    def chat(run_id: str, message: str, system_prompt: str = "", temperature: float = 0.0, top_p: float = 0.9,
             max_new_tokens: int = 128, against: str = "") -> dict:
        """Base and tuned replies to one message: {"base": str, "tuned": str}. An empty run_id chats with the
        default base model alone; `against` (another run id) answers as "base" instead of the run's base model."""
        return _call(lab.chat, run_id, message, system_prompt, temperature, top_p, max_new_tokens, against)

    def classify(run_id: str, texts: list[str]) -> list[dict]:
        """For each text: {"base": {label: probability}, "tuned": {label: probability}}."""
        return _call(lab.classify, run_id, texts)

    def import_adapter(path: str, base_model: str = "") -> str:
        """Import a PEFT adapter (a zip or folder on the server with adapter_config.json and
        adapter_model.safetensors; pickled .bin/.pt weights are refused) as a run; returns its run id."""
        return _call(lab.import_adapter, path, base_model)

    def vote(run_id: str, prompt: list[dict], base: str, tuned: str, winner: str, against: str = "") -> None:
        """Keep a preference between the base's and the tuned model's replies to `prompt` (the conversation before
        them, as {role, content} messages): winner is base, tuned, tie or both bad. `against`: the run that
        answered as "base", when it was not the run's base model (see chat)."""
        if winner not in ("base", "tuned", "tie", "both bad"):
            raise gr.Error(f"winner: {winner!r} is not one of base, tuned, tie, both bad")
        record = {"winner": winner, "prompt": prompt, "base": base, "tuned": tuned}
        _call(lab.vote, run_id, {**record, "against": against} if against else record)

    def train_on_votes(run_id: str, settings: dict | None = None) -> str:
        """Queue a preference run (ORPO unless settings say `preference.loss`) on the run's decided votes, going on
        from that run; returns the new run's id. `settings` as for start_training."""
        return _call(lab.train_on_votes, run_id, **(settings or {}))

    def suggest_settings(task: str, data: str, model: str = "", method: str = "lora",
                         settings: dict | None = None) -> dict:
        """The settings a run on this data, model and method should start with: {"settings": {name: value},
        "why": [{"key", "text"}], "facts": {"rows", "val_rows", "params", "tokens"}}. `settings`: data fields."""
        return _call(lab.suggest, task, data, model, method, settings)

    def auto_tune(task: str, data: str, model: str = "", method: str = "lora", settings: dict | None = None,
                  trials: int = 12, minutes: float = 30) -> str:
        """Start an auto-tune study (Optuna: TPE, pruning on the validation metric) of up to `trials` runs and
        `minutes` of training from these settings; returns the study id. Its trials are runs in the queue."""
        cfg = _call(lab.build_config, task, data, model, method, **(settings or {}))
        return _call(lab.tune, cfg.to_dict(), trials, minutes)

    def study(study_id: str) -> dict:
        """A study: state, budget, trials (run id, state, settings, value, metric at each evaluation), parameter
        importance, best_run."""
        return _call(lab.study, study_id)

    def studies() -> list[dict]:
        """Every study (on a shared server, the caller's own), newest first."""
        return _call(lab.studies_list)

    def stop_study(study_id: str) -> None:
        """Start no more trials of a study; its running trial stops and counts as it stands."""
        _call(lab.stop_study, study_id)

    for fn in (samples, inspect_data, formats, start_training, status, stop_training, cancel_training,
               resume_training, delete_run, runs, chat, classify, import_adapter, vote, train_on_votes,
               suggest_settings, auto_tune, study, studies, stop_study):
        gr.api(fn, api_name=fn.__name__)
