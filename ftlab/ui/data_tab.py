"""Data tab: pick a bundled sample or upload a file; see the detected format, validation result and first rows."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab.service import Lab
from ftlab.ui import insight_panel
from ftlab.ui.common import PRIVATE


@dataclass
class DataTab:
    path: gr.State
    task: gr.State
    summary: gr.Markdown


def build(lab: Lab) -> DataTab:
    samples = lab.samples()
    path, task = gr.State(""), gr.State("")
    with gr.Row():
        sample = gr.Dropdown([(f"{s['name']}: {s['description']}", s["name"]) for s in samples], value=None,
                             label="Sample dataset", info="Bundled examples; no upload needed.", elem_id="sample")
        upload = gr.File(label="…or upload CSV, TSV, JSONL, JSON or Parquet (gzipped too)",
                         file_types=[".csv", ".tsv", ".jsonl", ".json", ".parquet", ".gz"],
                         elem_id="upload")
    summary = gr.Markdown("No dataset chosen yet.", elem_id="data-summary")
    table = gr.Dataframe(headers=["input / text", "answer / label"], label="First rows", wrap=True,
                         interactive=False)

    def show(source: str | None, uploaded: bool = False):
        if not source:
            return "", "", "No dataset chosen yet.", None
        if uploaded:
            source = lab.keep_upload(source)
        info = lab.inspect(source)
        if not info["ok"]:
            return "", "", "⚠️ This file can't be used yet.\n\n" + info["summary"], None
        return source, info["task"], "✅ " + info["summary"], info["preview"]

    outputs = [path, task, summary, table]
    sample.change(show, sample, outputs, **PRIVATE)
    upload.upload(lambda f: show(f, uploaded=True), upload, outputs, **PRIVATE)
    insight_panel.build(lab, path, task)
    return DataTab(path, task, summary)
