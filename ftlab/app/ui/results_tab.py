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

from ftlab import i18n
from ftlab.eval import report as report_mod
from ftlab.app.lab import Lab
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import redraw, t, tr

CHANGES = ["all", "fixed", "broken", "unchanged"]
"""The change filter's values (the report's `change` values, and all); their names on screen are in the locale."""
SORTS = ["biggest improvement first", "biggest regression first"]
"""The order's values; their names on screen are in the locale."""
METRIC_COLUMNS = ["metric", "base", "tuned", "delta"]


@dataclass
class ResultsTab:
    run: gr.Dropdown
    refresh: object
    """(chosen=None) -> the dropdown's update: fresh choices, `chosen` kept while listed, else the newest run."""


def choices(lab: Lab) -> list[tuple[str, str]]:
    return [(f"{r['run_id']} ({r['task']}, {r['method']})", r["run_id"]) for r in lab.runs()
            if lab.report(r["run_id"])]


def summary(rep: dict) -> str:
    if not rep:
        return t("results.no_report")
    text = t("results.summary", rows=rep["rows_compared"], step=rep["step"])
    if rep.get("weights_of", rep["step"]) != rep["step"]:
        text += t("results.weights_of", best=rep["weights_of"])
    if rep.get("changes"):
        c = rep["changes"]
        text += t("results.changes", fixed=c["fixed"], broken=c["broken"], unchanged=c["unchanged"])
    if rep.get("counts"):  # preference pairs the tuned model now orders right (or wrong)
        text += t("results.pairs_changed", fixed=rep["counts"]["fixed"], broken=rep["counts"]["broken"])
    return text


def metrics_frame(rep: dict) -> pd.DataFrame:
    """Metric, base, tuned and delta (the headers in the caller's language)."""
    rows = [{**r, "metric": i18n.t_or(f"metric.{r['metric']}", r["metric"])} for r in report_mod.metrics_table(rep)]
    frame = pd.DataFrame(rows or None, columns=METRIC_COLUMNS)
    return frame.rename(columns={c: t(f"results.col_{c}") for c in METRIC_COLUMNS})


def matrix(rep: dict, side: str) -> pd.DataFrame:
    labels = rep.get("labels", [])
    rows = rep.get("confusion_matrix", {}).get(side, [])
    return pd.DataFrame([[t("results.true", label=labels[i]), *row] for i, row in enumerate(rows)] or None,
                        columns=["", *[t("results.predicted", label=name) for name in labels]])


def class_choices(rep: dict) -> list[tuple[str, str]]:
    """The class filter: all, then each label (labels are data, shown as they are)."""
    return [(t("results.all_classes"), "all"), *[(name, name) for name in rep.get("labels", [])]]


CHAT_ORDER = ["base", "tuned", "base_score", "tuned_score", "base_margin", "tuned_margin", "improvement", "change",
              "prompt", "chosen", "rejected", "reference"]
"""A chat report's columns on screen: the comparison first, the long prompt and reference last."""
CHAT_NAMES = {"base": "base_reply", "tuned": "tuned_reply"}
MAX_CHARS = 300
"""A longer text is cut in the table (a click on the cell shows all of it; the CSV holds every word)."""


def rows_frame(rep: dict, label: str = "all", change: str = "all", sort: str = SORTS[0]) -> pd.DataFrame:
    """The report's rows as a person reads them: a chat report's comparison columns first, headers and change
    values in the caller's language (the CSV download keeps the report's own names)."""
    rows = rep.get("rows", [])
    if not rows:
        return pd.DataFrame(None)
    columns = list(rows[0])
    names = {value: name for name, value in i18n.texts("results.change")["choices"]}
    if "change" in columns:  # rows that each changed or not (a classifier's, a preference run's pairs)
        rows = [{**r, "change": names.get(r["change"], r["change"])} for r in rows
                if (label == "all" or r.get("label") == label) and (change == "all" or r["change"] == change)]
    if "changes" not in rep:
        rows = sorted(rows, key=lambda r: r["improvement"], reverse=sort == SORTS[0])
        columns = [c for c in CHAT_ORDER if c in columns] + [c for c in columns if c not in CHAT_ORDER]
    frame = pd.DataFrame(rows or None, columns=columns)
    chat = "changes" not in rep
    return frame.rename(columns={c: t("results.row_" + (CHAT_NAMES.get(c, c) if chat else c)) for c in columns})


def widths(rep: dict) -> list[str] | None:
    """Column widths that keep every column in view at 1400 px: a chat report's replies first and widest, a
    classifier's text widest and its change readable."""
    columns = list(rep.get("rows", [{}])[0]) if rep.get("rows") else []
    if columns == ["text", "label", "base", "base_p", "tuned", "tuned_p", "change"]:
        return ["33%", "11%", "11%", "8%", "11%", "8%", "18%"]
    if set(columns) == {"base", "tuned", "base_score", "tuned_score", "improvement", "prompt", "reference"}:
        return ["22%", "22%", "8%", "8%", "10%", "15%", "15%"]
    if set(columns) == {"base_margin", "tuned_margin", "improvement", "change", "prompt", "chosen", "rejected"}:
        return ["8%", "8%", "9%", "9%", "20%", "18%", "28%"]
    return None


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
        run = tr("results.run", gr.Dropdown, choices=choices(lab), value=None, elem_id="results-run")
        reload_btn = tr("common.refresh", gr.Button, size="sm")
    about = gr.Markdown(summary({}), elem_id="results-summary")
    table = tr("results.metrics", gr.Dataframe, interactive=False, elem_id="results-metrics")
    with gr.Row(visible=False) as class_filters:
        label = tr("results.class", gr.Dropdown, choices=class_choices({}), value="all", elem_id="flips-class")
        change = tr("results.change", gr.Radio, choices=CHANGES, value="all", elem_id="flips-change")
    with gr.Row(visible=False) as chat_sort:
        sort = tr("results.sort", gr.Radio, choices=SORTS, value=SORTS[0], elem_id="rows-sort")
    rows = tr("results.rows", gr.Dataframe, interactive=False, wrap=True, elem_id="results-rows", max_height=480,
              max_chars=MAX_CHARS)
    with gr.Row(visible=False) as matrices:
        base_cm = tr("results.cm_base", gr.Dataframe, interactive=False, elem_id="confusion-base")
        tuned_cm = tr("results.cm_tuned", gr.Dataframe, interactive=False, elem_id="confusion-tuned")
    download = tr("results.download", gr.DownloadButton, visible=False, elem_id="results-download")

    def show(run_id):
        rep = lab.report(run_id) if run_id else {}
        classify = "changes" in rep  # a report of rows that each changed or not: a classifier's filters
        return (summary(rep), metrics_frame(rep),
                gr.update(visible=classify), gr.update(choices=class_choices(rep), value="all"),
                "all", gr.update(visible=bool(rep) and not classify),
                gr.update(value=rows_frame(rep), column_widths=widths(rep)),
                gr.update(visible=classify), matrix(rep, "base"), matrix(rep, "tuned"),
                gr.update(value=csv_file(rep, run_id, lab.scratch_dir("ftlab-report-")) if rep else None,
                          visible=bool(rep)))

    def filtered(run_id, label_v, change_v, sort_v):
        return rows_frame(lab.report(run_id) if run_id else {}, label_v, change_v, sort_v)

    def retold(run_id):
        """After a language switch: what `show` wrote in words, in the new language (filters and rows kept)."""
        rep = lab.report(run_id) if run_id else {}
        return (summary(rep), metrics_frame(rep), gr.update(choices=class_choices(rep)), matrix(rep, "base"),
                matrix(rep, "tuned"), rows_frame(rep))

    outputs = [about, table, class_filters, label, change, chat_sort, rows, matrices, base_cm, tuned_cm, download]
    run.change(show, run, outputs, **PRIVATE)
    gr.on([label.input, change.input, sort.input], filtered, [run, label, change, sort], rows, **PRIVATE)
    redraw(retold, [run], [about, table, label, base_cm, tuned_cm, rows])

    def refresh(chosen=None):
        """The runs with a report; `chosen` stays selected while it is listed, else the newest is."""
        listed = choices(lab)
        ids = [value for _, value in listed]
        return gr.update(choices=listed, value=chosen if chosen in ids else (ids[0] if ids else None))

    reload_btn.click(refresh, run, run, **PRIVATE)
    return ResultsTab(run, refresh)
