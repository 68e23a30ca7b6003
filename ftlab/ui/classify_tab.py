"""Classify tab: label and probabilities from the base and the tuned classifier, side by side, for one text; or a
whole file at once, downloaded as a predictions CSV with base and tuned columns and whether they agree."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftlab.readers import DataError
from ftlab.service import Lab
from ftlab.ui.common import PRIVATE, RunPicker, run_picker


def build(lab: Lab) -> RunPicker:
    picker = run_picker(lab, "classify", "classify-run", "Finished classification runs. The base model's head is "
                        "untrained (seeded), so its guesses show what the fine-tune added.")
    run = picker.run
    text = gr.Textbox(label="Text", lines=3, elem_id="classify-input",
                      placeholder="e.g. The soup was cold and the waiter ignored us.")
    second = gr.Textbox(label="Second text (sentence-pair runs only)", lines=2, elem_id="classify-pair",
                        placeholder="e.g. the hypothesis, or the second question; leave empty for single-text runs")
    go = gr.Button("Classify", variant="primary", elem_id="classify-go")
    with gr.Row():
        base = gr.Label(label="Base model", elem_id="base-label")
        tuned = gr.Label(label="Tuned model", elem_id="tuned-label")

    def show_labels(rid, value, pair_text):
        if not rid or not value.strip():
            gr.Warning("Type a text to classify." if rid else
                       "Pick a finished classification run first (train one in the Train tab).")
            return gr.update(), gr.update()
        try:
            item = [value, pair_text] if pair_text.strip() else value
            result = lab.classify(rid, [item])[0]
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(f"Could not classify: {exc}") from None
        return result["base"], result["tuned"]

    with gr.Accordion("Batch: classify a whole file", open=False):
        upload = gr.File(label="CSV, TSV, JSON(L), Parquet or TXT with a text column", elem_id="batch-file",
                         file_types=[".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt", ".gz"])
        batch_go = gr.Button("Classify file", elem_id="batch-go")
        batch_summary = gr.Markdown("", elem_id="batch-summary")
        batch_rows = gr.Dataframe(label="Predictions (first 200 rows)", interactive=False, wrap=True,
                                  elem_id="batch-rows", max_height=360)
        batch_csv = gr.DownloadButton("Download predictions (CSV)", visible=False, elem_id="batch-download")

    def classify_batch(rid, file):
        if not rid or not file:
            raise gr.Error("Pick a finished classification run and upload a file first.")
        try:
            result = lab.classify_file(rid, file)
        except DataError as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(f"Could not classify the file: {exc}") from None
        return (result["summary"], pd.DataFrame(result["rows"][:200]),
                gr.update(value=result["csv"], visible=True))

    batch_go.click(classify_batch, [run, upload], [batch_summary, batch_rows, batch_csv], **PRIVATE)
    go.click(show_labels, [run, text, second], [base, tuned], **PRIVATE)
    text.submit(show_labels, [run, text, second], [base, tuned], **PRIVATE)
    return picker
