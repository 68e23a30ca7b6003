"""Runs tab: every run with its state, task, method, key metrics and duration; pick several to overlay their
loss curves and see how their configs differ."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftlab import i18n, tasks
from ftlab.app.lab import Lab
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.dashboard import colors, loss_frame, state_name
from ftlab.app.ui.translate import redraw, t, tr

COLUMNS = ["run_id", "state", "task", "method", "model", "data", "step", "eval_loss", "key_metric", "duration_s"]
"""The runs list's columns (the headers on screen are in the locale: runs.col_<column>). The train loss is left
to the run's own page and Compare: with it the list was wider than its box at 1400 px."""
WIDTHS = ["19%", "8%", "7%", "8%", "13%", "11%", "6%", "8%", "12%", "8%"]


@dataclass
class RunsTab:
    refresh: object
    outputs: list


def table(lab: Lab) -> pd.DataFrame:
    """Every run, newest first, as a person reads it: headers, states and the key metric's name in the caller's
    language, the model by its name, the eval loss to three decimals, durations in minutes and seconds."""
    rows = []
    for run in lab.runs():
        row = {c: run.get(c) for c in COLUMNS}
        row["state"] = state_name(row["state"]) if row["state"] else row["state"]
        if run.get("problem"):  # a damaged run: what is wrong with it (a click on the cell shows it all)
            row["state"] += f": {run['problem']}"
        row["task"] = i18n.t_or(f"task.{row['task']}", row["task"])
        row["method"] = i18n.t_or(f"method.{row['method']}.label", row["method"])
        row["eval_loss"] = rounded(row["eval_loss"])
        row["model"] = (row["model"] or "").rstrip("/").rsplit("/", 1)[-1]  # its name; Compare shows it all
        if row["key_metric"] is not None:
            task = tasks.find(run["task"])
            name = getattr(task, "key_metric", "eval_loss").removeprefix("eval_")
            row["key_metric"] = f"{i18n.t_or(f'metric.{name}', name)} {rounded(row['key_metric'])}"
        row["duration_s"] = duration(row["duration_s"])
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).rename(columns={c: t(f"runs.col_{c}") for c in COLUMNS})


def rounded(value) -> str:
    """A metric as it matters: three decimals (more for a tiny value), "" for none."""
    if value is None:
        return ""
    return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def duration(seconds) -> str:
    if seconds is None:
        return ""
    minutes, rest = divmod(int(round(seconds)), 60)
    return t("runs.duration", m=minutes, s=rest) if minutes else t("runs.duration_s", s=rest)


def flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and key != "columns":
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_diff(configs: dict[str, dict]) -> pd.DataFrame:
    """One row per setting whose value differs between the runs, a column per run."""
    flats = {run_id: flat(cfg) for run_id, cfg in configs.items()}
    keys = sorted({k for f in flats.values() for k in f})
    rows = [{"setting": k, **{run_id: str(f.get(k, "")) for run_id, f in flats.items()}} for k in keys
            if len({str(f.get(k)) for f in flats.values()}) > 1]
    frame = pd.DataFrame(rows or None, columns=["setting", *flats])
    return frame.rename(columns={"setting": t("runs.setting")})


def overlay(lab: Lab, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = [loss_frame(lab.status(r).get("metrics", []), r) for r in run_ids or []]
    frames = [f[~f["series"].str.endswith(" train")] for f in frames if len(f)]  # smoothed train and eval only
    loss = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "loss", "series"])
    return loss, config_diff({r: lab.run_config(r) for r in run_ids or []})


def delete_panel(lab: Lab, runs: gr.Dataframe, picked: gr.Dropdown, refresh) -> None:
    """Delete a finished run: pick it, press Delete, then confirm (it can't be undone)."""
    with tr("runs.delete_panel", gr.Accordion, open=False):
        with gr.Row():
            doomed = tr("runs.delete_run", gr.Dropdown, choices=[], elem_id="delete-run")
            ask = tr("runs.delete", gr.Button, variant="stop", elem_id="delete-ask")
        with gr.Row(visible=False) as confirm_row:
            question = gr.Markdown(elem_id="delete-question")
            yes = tr("runs.delete_yes", gr.Button, variant="stop", elem_id="delete-yes")
            no = tr("runs.delete_no", gr.Button, elem_id="delete-no")

    def finished() -> list[str]:
        return [r["run_id"] for r in lab.runs() if r["state"] not in ("queued", "running", "stopping")]

    def confirm(run_id):
        if not run_id:
            raise gr.Error(t("runs.delete_pick"), title=t("banner.not_yet"))
        return gr.update(visible=True), t("runs.delete_question", run=run_id)

    def delete(run_id, ids):
        try:
            lab.delete(run_id)
        except ValueError as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None
        gr.Info(t("runs.deleted", run=run_id))
        return (gr.update(visible=False), gr.update(choices=finished(), value=None),
                *refresh([r for r in ids or [] if r != run_id]))

    doomed.focus(lambda: gr.update(choices=finished()), None, doomed, **PRIVATE)
    ask.click(confirm, doomed, [confirm_row, question], **PRIVATE)
    no.click(lambda: gr.update(visible=False), None, confirm_row, **PRIVATE)
    yes.click(delete, [doomed, picked], [confirm_row, doomed, runs, picked], **PRIVATE)


def build(lab: Lab) -> RunsTab:
    runs = tr("runs.list", gr.Dataframe, table(lab), interactive=False, elem_id="runs-list", wrap=True,
              max_chars=40, column_widths=WIDTHS)  # every column stays in view at 1400 px
    with gr.Row():
        picked = tr("runs.compare", gr.Dropdown, choices=[r["run_id"] for r in lab.runs()], multiselect=True,
                    elem_id="compare-runs")
        reload_btn = tr("common.refresh", gr.Button, size="sm")
    plot = tr("runs.plot", gr.LinePlot, x="step", y="loss", color="series", elem_id="compare-plot")
    diff = tr("runs.diff", gr.Dataframe, interactive=False, elem_id="config-diff")

    def compare(ids):
        loss, settings = overlay(lab, ids)
        return loss, settings

    def recolor(ids):  # after the rows are in: see dashboard.colors
        return colors(list(dict.fromkeys(overlay(lab, ids)[0]["series"])))[0]

    picked.change(compare, picked, [plot, diff], **PRIVATE).then(recolor, picked, plot, **PRIVATE)

    def refresh(ids=None):
        listed = lab.runs()
        ids = [r for r in ids or [] if r in {x["run_id"] for x in listed}]
        return table(lab), gr.update(choices=[r["run_id"] for r in listed], value=ids)

    reload_btn.click(refresh, picked, [runs, picked], **PRIVATE)
    delete_panel(lab, runs, picked, refresh)
    redraw(lambda ids: (table(lab), config_diff({r: lab.run_config(r) for r in ids or []})), [picked],
           [runs, diff])  # their headers and the runs' states in the new language
    return RunsTab(lambda: refresh(), [runs, picked])
