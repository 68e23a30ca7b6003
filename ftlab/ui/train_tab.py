"""Train tab: model, method, preset and settings (advanced ones folded away), the trainable parameters and a
memory estimate before Start; Start / Stop and save / Cancel / Resume; the live dashboard (ftlab.ui.dashboard)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import gradio as gr

from ftlab import plan, presets
from ftlab.config import DEFAULT_MODELS
from ftlab.jobs import RESUMABLE, Busy
from ftlab.modeling import NotFetched
from ftlab.presets import PRESETS
from ftlab.service import TASK_DEFAULTS, Lab
from ftlab.ui import dashboard
from ftlab.ui.runs_tab import table as runs_list

POLL_S = 2.0
"""The dashboard's refresh period. Each refresh costs the server and the browser CPU time that a run on a small
CPU would otherwise have (benchmarks/dashboard_overhead.py), so it polls only while the shown run is live."""
from ftlab.ui.common import PRIVATE
from ftlab.ui.settings_panel import settings_panel


@dataclass
class TrainTab:
    run_id: gr.State
    reattach: object


def run_choices(lab: Lab) -> list[tuple[str, str]]:
    return [(f"{r['run_id']} ({r['state']})", r["run_id"]) for r in lab.runs()]


def build(lab: Lab, data) -> TrainTab:
    run_id = gr.State(None)
    methods_info = lab.methods()
    usable = [(m["label"], m["name"]) for m in methods_info if not m["unavailable"]]
    blocked = [f"{m['label']}: {m['unavailable']}" for m in methods_info if m["unavailable"]]
    with gr.Row():
        task = gr.Radio(["chat", "classify"], value="chat", label="Task", info="Set from the data you picked.")
        model = gr.Textbox(DEFAULT_MODELS["chat"], label="Base model", elem_id="model",
                           info="A Hugging Face Hub id or a local folder.")
        preset = gr.Dropdown(list(PRESETS), value=None, label="Preset", elem_id="preset",
                             info="Fills in the settings below; each stays editable.")
    helps = {m["name"]: f"**{m['label']}**: {m['help']}" for m in methods_info}
    method = gr.Radio(usable, value="lora", label="Method", elem_id="method")
    method_help = gr.Markdown(helps["lora"] + ("\n\nNot available here: " + "; ".join(blocked) if blocked else ""),
                              elem_id="method-help")
    method.change(lambda m: helps.get(m, ""), method, method_help, **PRIVATE)
    with gr.Row():
        epochs = gr.Number(TASK_DEFAULTS["chat"]["epochs"], label="Epochs", step=0.5, elem_id="epochs",
                           info="Passes over the rows; 0 with Max steps set.")
        lr = gr.Number(TASK_DEFAULTS["chat"]["learning_rate"], label="Learning rate", step=1e-5, elem_id="lr",
                       info="LoRA: 1e-4 to 5e-4; full fine-tuning: 1e-5 to 5e-5.")
        batch = gr.Number(TASK_DEFAULTS["chat"]["batch_size"], label="Batch size", precision=0,
                          elem_id="batch-size", info="Rows per step; lower it if memory runs out.")
        max_len = gr.Number(TASK_DEFAULTS["chat"]["max_length"], label="Max length (tokens)", precision=0,
                            elem_id="max-length", info="Longer rows are cut to this many tokens.")
    advanced = settings_panel()
    with gr.Row():
        plan_md = gr.Markdown("", elem_id="plan")
        estimate_btn = gr.Button("↻ Parameters and memory", size="sm", elem_id="estimate")
    with gr.Row():
        shown_run = gr.Dropdown(run_choices(lab), value=None, label="Run shown below", elem_id="train-run",
                                info="The run you start is shown; pick another to watch, stop, cancel or resume it.")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="start")
        stop = gr.Button("Stop and save", variant="stop", elem_id="stop", interactive=False)
        cancel = gr.Button("Cancel (don't save)", elem_id="cancel", interactive=False)
        resume = gr.Button("Resume from checkpoint", elem_id="resume", interactive=False)
    board = dashboard.build()
    with gr.Accordion("All runs", open=False):
        runs_table = gr.Dataframe(runs_list(lab), label="Runs (newest first)", interactive=False,
                                  elem_id="runs-table")
        refresh_runs = gr.Button("↻ Refresh", size="sm")
    timer = gr.Timer(POLL_S, active=False)  # ticks only while the shown run is queued, running or stopping
    basics = {"epochs": epochs, "learning_rate": lr, "batch_size": batch, "max_length": max_len}
    keys, fields = list(basics) + list(advanced), list(basics.values()) + list(advanced.values())

    def on_task(new_task: str, current: str):
        if not new_task or new_task == current:  # same task: keep what the user typed
            return (gr.update(),) * 6
        d = TASK_DEFAULTS[new_task]
        return new_task, DEFAULT_MODELS[new_task], d["epochs"], d["learning_rate"], d["batch_size"], d["max_length"]

    def on_preset(name, task_v):
        if not name:
            return [gr.update()] * (len(fields) + 1)
        values = presets.get(name, task_v or "chat")
        return [values.get("method", gr.update())] + [values.get(k, gr.update()) for k in keys]

    def config(data_path, options, task_v, model_v, method_v, values):
        settings = {**dict(zip(keys, values)), **(options or {})}
        return lab.build_config(task_v, data_path or "pirate_chat", model_v.strip(), method_v, **settings)

    def estimate(fetch, data_path, options, task_v, model_v, method_v, *values):
        try:
            cfg = config(data_path, options, task_v, model_v, method_v, values)
            return plan.describe(lab.estimate(cfg.to_dict(), fetch))
        except NotFetched as exc:
            return f"Parameters and memory: {exc}; press ↻ to fetch it now, or Start."
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            return f"Can't estimate yet: {exc}"

    def on_start(data_path, options, task_v, model_v, method_v, *values):
        if not data_path:
            gr.Warning("Pick a sample or upload a valid dataset in the Data tab first.")
            return gr.update()
        try:
            return lab.start(config(data_path, options, task_v, model_v, method_v, values).to_dict())
        except Busy as exc:
            raise gr.Error(str(exc)) from None
        except ValueError as exc:
            raise gr.Error(f"Settings problem: {exc}") from None

    def on_resume(rid):
        try:
            return lab.resume(rid)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None

    def refresh(rid, seen):
        """Everything shown about run `rid`; what has not changed since `seen` (the run, its state and how many
        metrics and probe answers were shown) is left as it is."""
        snap = lab.status(rid) if rid else {}
        samples = lab.probe_answers(rid) if rid else []
        state = snap.get("state", "")
        now = {"run": rid, "state": state, "metrics": len(snap.get("metrics", [])), "samples": len(samples)}
        seen = seen or {}
        same_run = seen.get("run") == rid
        if same_run and seen.get("metrics") == now["metrics"]:
            snap = {k: v for k, v in snap.items() if k != "metrics"}
        if same_run and seen.get("samples") == now["samples"]:
            samples = None
        if same_run and seen.get("state") == state:  # the runs list, buttons and timer change with a state
            return (*board.values(snap, samples), now, *[gr.update()] * 6)
        live = state in ("queued", "running", "stopping")
        return (*board.values(snap, samples), now, runs_list(lab), gr.update(interactive=state == "running"),
                gr.update(interactive=live), gr.update(interactive=state in RESUMABLE),
                gr.update(choices=run_choices(lab), value=rid), gr.Timer(active=live))

    inputs = [data.path, data.options, task, model, method, *fields]
    data.task.change(on_task, [data.task, task], [task, model, epochs, lr, batch, max_len], **PRIVATE)
    preset.input(on_preset, [preset, task], [method, *fields], **PRIVATE)
    changes = [method.change, task.change, model.blur, model.submit, data.path.change,
               *(f.change for f in fields)]  # the estimate follows every setting, never stale
    gr.on(changes, partial(estimate, False), inputs, plan_md, trigger_mode="always_last", **PRIVATE)
    estimate_btn.click(partial(estimate, True), inputs, plan_md, **PRIVATE)
    start.click(on_start, inputs, run_id, **PRIVATE)
    stop.click(lambda rid: lab.stop(rid) if rid else None, run_id, None, **PRIVATE)
    cancel.click(lambda rid: lab.cancel(rid) if rid else None, run_id, None, **PRIVATE)
    resumed = resume.click(on_resume, run_id, run_id, **PRIVATE)
    shown_state = gr.State({})
    outputs = [*board.outputs(), shown_state, runs_table, stop, cancel, resume, shown_run, timer]
    # no loading overlay on every tick: it repaints the plots each second, which slowed a watched run on a small CPU
    timer.tick(refresh, [run_id, shown_state], outputs, show_progress="hidden", **PRIVATE)
    run_id.change(refresh, [run_id, shown_state], outputs, show_progress="hidden", **PRIVATE)
    resumed.then(refresh, [run_id, shown_state], outputs, show_progress="hidden", **PRIVATE)  # same id: no change
    refresh_runs.click(lambda: runs_list(lab), None, runs_table, **PRIVATE)
    shown_run.input(lambda rid: rid, shown_run, run_id, **PRIVATE)
    return TrainTab(run_id, lab.current_run)
