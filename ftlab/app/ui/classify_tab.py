"""Classify tab: label and probabilities from the base and the tuned classifier, side by side, for one text; or a
whole file at once, downloaded as a predictions CSV with base and tuned columns and whether they agree."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftlab.data.readers import DataError
from ftlab.app.lab import Lab
from ftlab.app.ui.common import PRIVATE, RunPicker, run_picker
from ftlab.app.ui.translate import redraw, t, tr


def batch_counts(rows: list[dict]) -> dict:
    """How many texts a classified file had, on how many base and tuned agree and, when it has labels, how many each
    got right."""
    counts = {"n": len(rows), "agree": sum(bool(r.get("agree")) for r in rows)}
    if rows and "label" in rows[0]:
        counts.update({side: sum(bool(r.get(f"{side}_right")) for r in rows) for side in ("base", "tuned")})
    return counts


def batch_summary_text(counts: dict) -> str:
    """`batch_counts` in a sentence in the caller's language ("" for no rows)."""
    n = (counts or {}).get("n")
    if not n:
        return ""
    text = t("classify.batch_agree", n=n, agree=counts["agree"], pct=f"{100 * counts['agree'] / n:.0f}")
    if "base" in counts:
        text += t("classify.batch_right", base=counts["base"], tuned=counts["tuned"], n=n,
                  base_pct=f"{100 * counts['base'] / n:.0f}", tuned_pct=f"{100 * counts['tuned'] / n:.0f}")
    return text


def build(lab: Lab) -> RunPicker:
    picker = run_picker(lab, "classify", "classify-run", "classify.run")
    run = picker.run
    text = tr("classify.text", gr.Textbox, lines=3, elem_id="classify-input")
    second = tr("classify.pair", gr.Textbox, lines=2, elem_id="classify-pair")
    go = tr("classify.go", gr.Button, variant="primary", elem_id="classify-go")
    with gr.Row():
        base = tr("classify.base", gr.Label, elem_id="base-label")
        tuned = tr("classify.tuned", gr.Label, elem_id="tuned-label")

    def show_labels(rid, value, pair_text):
        if not rid:
            gr.Warning(t("classify.pick_run"), title=t("banner.not_yet"))
            return gr.update(), gr.update()
        if not value.strip():
            gr.Warning(t("classify.type_text"), title=t("banner.not_yet"))
            return gr.update(), gr.update()
        try:
            item = [value, pair_text] if pair_text.strip() else value
            result = lab.classify(rid, [item])[0]
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(t("classify.failed", problem=str(exc)), title=t("banner.problem")) from None
        return result["base"], result["tuned"]

    with tr("classify.batch", gr.Accordion, open=False):
        upload = tr("classify.file", gr.File, elem_id="batch-file",
                    file_types=[".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt", ".gz"])
        batch_go = tr("classify.batch_go", gr.Button, elem_id="batch-go")
        batch_summary = gr.Markdown("", elem_id="batch-summary")
        batch_rows = tr("classify.rows", gr.Dataframe, interactive=False, wrap=True, elem_id="batch-rows",
                        max_height=360)
        batch_csv = tr("classify.download", gr.DownloadButton, visible=False, elem_id="batch-download")
    classified = gr.State({})  # the file's counts, so its summary can be redrawn in another language

    def classify_batch(rid, file):
        if not rid:
            raise gr.Error(t("classify.pick_run"), title=t("banner.not_yet"))
        if not file:
            raise gr.Error(t("classify.no_file"), title=t("banner.not_yet"))
        try:
            result = lab.classify_file(rid, file)
        except DataError as exc:
            raise gr.Error(t("classify.bad_file", problem=str(exc)), title=t("banner.problem")) from None
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(t("classify.file_failed", problem=str(exc)), title=t("banner.problem")) from None
        counts = batch_counts(result["rows"])
        return (batch_summary_text(counts), pd.DataFrame(result["rows"][:200]),
                gr.update(value=result["csv"], visible=True), counts)

    batch_go.click(classify_batch, [run, upload], [batch_summary, batch_rows, batch_csv, classified], **PRIVATE)
    go.click(show_labels, [run, text, second], [base, tuned], **PRIVATE)
    text.submit(show_labels, [run, text, second], [base, tuned], **PRIVATE)
    redraw(batch_summary_text, [classified], batch_summary)
    return picker
