"""Results tab: a finished run against its base model on the validation split, from the run's report.json.

Metrics side by side with the delta. Classification: the flips table (fixed, broken, unchanged), filterable by
class and by change, and the confusion matrices before and after. Chat: each prompt's base and tuned replies with
a score each, sorted by improvement or regression. The rows download as CSV.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import pandas as pd

from ftlab import report as report_mod
from ftlab.service import Lab
from ftlab.ui.common import PRIVATE

CHANGES = ["all", "fixed", "broken", "unchanged"]
SORTS = ["biggest improvement first", "biggest regression first"]


@dataclass
class ResultsTab:
    run: gr.Dropdown
    refresh: object


def choices(lab: Lab) -> list[tuple[str, str]]:
    return [(f"{r['run_id']} ({r['task']}, {r['method']})", r["run_id"]) for r in lab.runs()
            if lab.report(r["run_id"])]


def summary(rep: dict) -> str:
    if not rep:
        return "No report yet: a run writes one when it finishes (it needs a validation split)."
    text = f"Base vs tuned on **{rep['rows_compared']}** validation rows, after step {rep['step']}."
    if rep.get("changes"):
        c = rep["changes"]
        text += f" **{c['fixed']} fixed**, **{c['broken']} broken**, {c['unchanged']} unchanged."
    return text


def matrix(rep: dict, side: str) -> pd.DataFrame:
    labels = rep.get("labels", [])
    rows = rep.get("confusion_matrix", {}).get(side, [])
    return pd.DataFrame([[f"true {labels[i]}", *row] for i, row in enumerate(rows)] or None,
                        columns=["", *[f"predicted {name}" for name in labels]])


def rows_frame(rep: dict, label: str = "all", change: str = "all", sort: str = SORTS[0]) -> pd.DataFrame:
    rows = rep.get("rows", [])
    if rep.get("task") == "classify":
        rows = [r for r in rows if (label == "all" or r["label"] == label) and (change == "all" or r["change"] == change)]
    else:
        rows = sorted(rows, key=lambda r: r["improvement"], reverse=sort == SORTS[0])
    return pd.DataFrame(rows or None, columns=list(rep["rows"][0]) if rep.get("rows") else None)


def csv_file(rep: dict, run_id: str, folder: Path | None = None) -> str | None:
    text = report_mod.csv_text(rep)
    if not text:
        return None
    folder = folder or Path(tempfile.mkdtemp(prefix="ftlab-report-"))
    path = folder / f"{run_id}-base-vs-tuned.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def build(lab: Lab) -> ResultsTab:
    with gr.Row():
        run = gr.Dropdown(choices(lab), value=None, label="Finished run", elem_id="results-run")
        reload_btn = gr.Button("↻ Refresh", size="sm")
    about = gr.Markdown(summary({}), elem_id="results-summary")
    table = gr.Dataframe(label="Metrics: base, tuned and the change", interactive=False, elem_id="results-metrics")
    with gr.Row(visible=False) as class_filters:
        label = gr.Dropdown(["all"], value="all", label="Class", elem_id="flips-class")
        change = gr.Radio(CHANGES, value="all", label="Change", elem_id="flips-change")
    with gr.Row(visible=False) as chat_sort:
        sort = gr.Radio(SORTS, value=SORTS[0], label="Order", elem_id="rows-sort")
    rows = gr.Dataframe(label="Per example", interactive=False, wrap=True, elem_id="results-rows", max_height=480)
    with gr.Row(visible=False) as matrices:
        base_cm = gr.Dataframe(label="Confusion matrix: base", interactive=False, elem_id="confusion-base")
        tuned_cm = gr.Dataframe(label="Confusion matrix: tuned", interactive=False, elem_id="confusion-tuned")
    download = gr.DownloadButton("Download rows (CSV)", visible=False, elem_id="results-download")

    def show(run_id):
        rep = lab.report(run_id) if run_id else {}
        classify = rep.get("task") == "classify"
        return (summary(rep), pd.DataFrame(report_mod.metrics_table(rep) or None,
                                           columns=["metric", "base", "tuned", "delta"]),
                gr.update(visible=classify), gr.update(choices=["all", *rep.get("labels", [])], value="all"),
                "all", gr.update(visible=bool(rep) and not classify), rows_frame(rep),
                gr.update(visible=classify), matrix(rep, "base"), matrix(rep, "tuned"),
                gr.update(value=csv_file(rep, run_id, lab.scratch_dir("ftlab-report-")) if rep else None,
                          visible=bool(rep)))

    def filtered(run_id, label_v, change_v, sort_v):
        return rows_frame(lab.report(run_id) if run_id else {}, label_v, change_v, sort_v)

    outputs = [about, table, class_filters, label, change, chat_sort, rows, matrices, base_cm, tuned_cm, download]
    run.change(show, run, outputs, **PRIVATE)
    gr.on([label.input, change.input, sort.input], filtered, [run, label, change, sort], rows, **PRIVATE)

    def refresh():
        return gr.update(choices=choices(lab))

    reload_btn.click(refresh, None, run, **PRIVATE)
    return ResultsTab(run, refresh)
