"""The Data tab's insight panel: rows per split, token lengths against the max length, rows that would be cut,
the label distribution, and one example with the tokens that carry loss highlighted."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from ftlab.config import DEFAULT_MODELS
from ftlab.service import Lab
from ftlab.ui.common import PRIVATE


def stats_markdown(result: dict) -> str:
    splits = result["splits"]
    cut = ("would be split into windows of that length (nothing is lost)" if result["windows"]
           else "would be cut")
    text = (f"Rows: **{splits['train']}** for training, **{splits['validation']}** for validation "
            f"({splits['validation_from']}).\n\n"
            f"Token lengths: mean **{result['mean_length']:.0f}**, longest **{result['longest']}**; "
            f"**{result['truncated']}** of {len(result['lengths'])} rows are longer than the max length "
            f"({result['max_length']}) and {cut}.")
    if result["plain_template"]:
        text += ("\n\nThis model has no chat template: ftlab uses a plain `### User:` / `### Assistant:` "
                 "template for it.")
    return text


def build(lab: Lab, path: gr.State, task: gr.State, options: gr.State) -> None:
    with gr.Accordion("Insight: token lengths, labels, which tokens are trained", open=False):
        with gr.Row():
            model = gr.Textbox(DEFAULT_MODELS["chat"], label="Tokenizer of model", elem_id="insight-model",
                               info="Lengths depend on the model's tokenizer; set to the model you will train.")
            max_len = gr.Number(256, label="Max length (tokens)", precision=0, minimum=8, elem_id="insight-max")
            go = gr.Button("Analyse", elem_id="insight-go")
        stats = gr.Markdown(elem_id="insight-stats")
        with gr.Row():
            lengths = gr.BarPlot(x="tokens", y="rows", x_bin=16, y_aggregate="sum", title="Token lengths",
                                 elem_id="insight-lengths")
            labels = gr.BarPlot(x="label", y="rows", title="Labels", elem_id="insight-labels")
        example = gr.HighlightedText(label="First example: highlighted tokens carry the loss",
                                     color_map={"loss": "green"}, elem_id="insight-example")

    def analyse(data_path, model_ref, n, opts):
        if not data_path:
            gr.Warning("Choose a valid dataset first.")
            return gr.update(), gr.update(), gr.update(), gr.update()
        try:
            result = lab.insight(data_path, model_ref.strip(), int(n), opts)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            gr.Warning(f"Could not analyse: {exc}")
            return gr.update(), gr.update(), gr.update(), gr.update()
        length_df = pd.DataFrame({"tokens": result["lengths"], "rows": 1})
        label_df = pd.DataFrame({"label": list(result["labels"]), "rows": list(result["labels"].values())})
        return (stats_markdown(result), length_df, gr.BarPlot(value=label_df, visible=bool(result["labels"])),
                gr.HighlightedText(value=result["example"], visible=bool(result["example"])))

    task.change(lambda t: DEFAULT_MODELS.get(t, DEFAULT_MODELS["chat"]), task, model, **PRIVATE)
    go.click(analyse, [path, model, max_len, options], [stats, lengths, labels, example], **PRIVATE)
