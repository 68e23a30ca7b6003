"""Train tab: Start / Stop and save / Cancel / Resume for the settings of the Model & method tab, the run shown,
and its live dashboard (ftlab.app.ui.dashboard)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab.runs.jobs import RESUMABLE, Busy
from ftlab.app.lab import Lab
from ftlab.app.ui import dashboard
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.data_tab import missing_data
from ftlab.app.ui import runs_tab
from ftlab.app.ui.runs_tab import table as runs_list
from ftlab.app.ui.translate import redraw, t, tr

POLL_S = 2.0
"""The dashboard's refresh period. Each refresh costs the server and the browser CPU time that a run on a small
CPU would otherwise have (benchmarks/dashboard_overhead.py), so it polls only while the shown run is live."""


@dataclass
class TrainTab:
    run_id: gr.State
    reattach: object
    done: gr.Button
    """Shown once the run has finished with weights: on to the Compare tab."""
    study: gr.State
    """The auto-tune study the Auto-tune button started (the Auto-tune tab shows it)."""


def run_choices(lab: Lab) -> list[tuple[str, str]]:
    return [(f"{r['run_id']} ({dashboard.state_name(r['state'])})", r["run_id"]) for r in lab.runs()]


def build(lab: Lab, data, setup) -> TrainTab:
    run_id = gr.State(None)
    summary = gr.Markdown("", elem_id="train-summary")
    with gr.Row():
        shown_run = tr("train.shown_run", gr.Dropdown, choices=run_choices(lab), value=None, elem_id="train-run")
    with gr.Row():
        start = tr("train.start", gr.Button, variant="primary", elem_id="start")
        stop = tr("train.stop", gr.Button, variant="stop", elem_id="stop", interactive=False)
        cancel = tr("train.cancel", gr.Button, elem_id="cancel", interactive=False)
        resume = tr("train.resume", gr.Button, elem_id="resume", interactive=False)
    with gr.Row(equal_height=True):
        auto = tr("train.auto", gr.Button, elem_id="auto-tune", scale=1)
        auto_trials = tr("train.auto_trials", gr.Number, 12, precision=0, minimum=1, elem_id="auto-trials", scale=1)
        auto_minutes = tr("train.auto_minutes", gr.Number, 30, minimum=0, elem_id="auto-minutes", scale=1)
    study = gr.State(None)
    board = dashboard.build()
    done = tr("nav.to_compare", gr.Button, variant="primary", visible=False, elem_id="to-compare")
    with tr("train.all_runs", gr.Accordion, open=False):
        runs_table = tr("train.runs_table", gr.Dataframe, runs_list(lab), interactive=False, elem_id="runs-table",
                        wrap=True, max_chars=40, column_widths=runs_tab.WIDTHS)
        refresh_runs = tr("common.refresh", gr.Button, size="sm")
    timer = gr.Timer(POLL_S, active=False)  # ticks only while the shown run is queued, running or stopping

    def what(data_path, source, options, task_v, model_v, method_v, *values):
        """What Start will train, in one line (so nobody has to go back to check)."""
        if not data_path:
            return missing_data(data_path, source)
        try:  # how long it trains: a max steps set for an earlier try stays in view
            train_cfg = setup.config(data_path, options, task_v, model_v, method_v, *values).train
            length = (t("train.length_steps", n=train_cfg.max_steps) if train_cfg.max_steps
                      else t("train.length_epochs", n=f"{train_cfg.epochs:g}"))
        except ValueError:
            length = "?"
        return t("train.will_train", model=model_v, method=t(f"method.{method_v}.label"),
                 data=data_path.rsplit("/", 1)[-1], length=length)

    def ready(data_path, options, given):
        """The config Start (or Auto-tune) trains: the fields as given, with a suggestion still on its way in them."""
        *settings, typed, last = given
        return setup.config(data_path, options, *setup.settled(data_path, options, settings, typed, last))

    def on_start(data_path, source, options, *given):
        if not data_path:
            raise gr.Error(missing_data(data_path, source), title=t("banner.not_yet"))
        try:
            return lab.start(ready(data_path, options, given).to_dict())
        except Busy as exc:
            raise gr.Error(str(exc), title=t("banner.busy")) from None
        except ValueError as exc:
            raise gr.Error(t("train.fix_settings", problem=str(exc)), title=t("banner.settings")) from None

    def on_auto(trials, minutes, data_path, source, options, *given):
        """Start an auto-tune study from these settings; its id (the Auto-tune tab then shows it)."""
        if not data_path:
            raise gr.Error(missing_data(data_path, source), title=t("banner.not_yet"))
        try:
            return lab.tune(ready(data_path, options, given).to_dict(), trials or 12, minutes or 0)
        except Busy as exc:
            raise gr.Error(str(exc), title=t("banner.busy")) from None
        except ValueError as exc:
            raise gr.Error(t("train.fix_settings", problem=str(exc)), title=t("banner.settings")) from None

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
        now = {"run": rid, "state": state, "metrics": len(snap.get("metrics", [])), "samples": len(samples),
               "names": dashboard.names(snap.get("metrics", []))}
        seen = seen or {}
        same_run = seen.get("run") == rid
        if same_run and seen.get("metrics") == now["metrics"]:
            snap = {k: v for k, v in snap.items() if k != "metrics"}
        if same_run and seen.get("samples") == now["samples"]:
            samples = None
        if same_run and seen.get("state") == state:  # the runs list, buttons and timer change with a state
            return (*board.values(snap, samples), now, *[gr.update()] * 7)
        live = state in ("queued", "running", "stopping")
        finished = state in ("completed", "stopped")
        cfg = lab.run_config(rid) if rid and not same_run else None
        return (*board.values(snap, samples, cfg), now, runs_list(lab), gr.update(interactive=state == "running"),
                gr.update(interactive=live), gr.update(interactive=state in RESUMABLE),
                gr.update(choices=run_choices(lab), value=rid), gr.Timer(active=live), gr.update(visible=finished))

    inputs = [data.path, data.source, data.options, *setup.inputs]
    gr.on([data.path.change, data.source.change, *(c.change for c in setup.inputs)], what, inputs, summary,
          trigger_mode="always_last",
          **PRIVATE)
    redraw(what, inputs, summary)
    start.click(on_start, inputs + setup.pending, run_id, **PRIVATE)
    auto.click(on_auto, [auto_trials, auto_minutes, *inputs, *setup.pending], study, **PRIVATE)
    def signal(action):
        """A Stop or Cancel handler: it asks the run, and returns nothing (the event has no outputs)."""
        def handler(rid) -> None:
            if rid:
                action(rid)
        return handler

    stop.click(signal(lab.stop), run_id, None, **PRIVATE)
    cancel.click(signal(lab.cancel), run_id, None, **PRIVATE)
    resumed = resume.click(on_resume, run_id, run_id, **PRIVATE)
    shown_state = gr.State({})
    outputs = [*board.outputs(), shown_state, runs_table, stop, cancel, resume, shown_run, timer, done]
    colored = gr.State([])

    def recolor(seen, done):
        """After a refresh drew other series names than the plots were coloured for: their colour maps."""
        drawn = (seen or {}).get("names", [])
        return (*dashboard.colors(*drawn), drawn) if drawn != done else (gr.update(), gr.update(), done)

    # no loading overlay on every tick: it repaints the plots each second, which slowed a watched run on a small CPU
    quiet = dict(show_progress="hidden", **PRIVATE)
    for event in (timer.tick, run_id.change, resumed.then):  # resumed: the same id, so no change event
        event(refresh, [run_id, shown_state], outputs, **quiet).then(
            recolor, [shown_state, colored], [*board.colored(), colored], **quiet)
    def retold(rid):
        """After a language switch: everything the dashboard wrote in words (legends, headers, title) again."""
        if not rid:
            return [dashboard.progress_markdown({}), *[gr.update()] * (len(board.outputs()) - 1)]
        return board.values(lab.status(rid), lab.probe_answers(rid), lab.run_config(rid))

    redraw(retold, [run_id], board.outputs())
    refresh_runs.click(lambda: runs_list(lab), None, runs_table, **PRIVATE)
    redraw(lambda: (runs_list(lab), gr.update(choices=run_choices(lab))), [], [runs_table, shown_run])
    shown_run.input(lambda rid: rid, shown_run, run_id, **PRIVATE)
    return TrainTab(run_id, lab.current_run, done, study)
