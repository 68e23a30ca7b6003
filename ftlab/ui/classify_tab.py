"""Classify tab: label and probabilities from the base and the tuned classifier, side by side, for one text."""

from __future__ import annotations

import gradio as gr

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

    go.click(show_labels, [run, text, second], [base, tuned], **PRIVATE)
    text.submit(show_labels, [run, text, second], [base, tuned], **PRIVATE)
    return picker
