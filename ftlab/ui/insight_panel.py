"""The Data tab's insight panel: rows per split, token lengths against the max length, rows that would be cut,
the label distribution, and one example with the tokens that carry loss highlighted."""

from __future__ import annotations

from collections import Counter

import gradio as gr
import pandas as pd

from ftlab.config import DEFAULT_MODELS
from ftlab.service import TASK_DEFAULTS, Lab
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


def histogram(lengths: list[int], max_length: int, bins: int = 20) -> pd.DataFrame:
    """Rows per token-length bin (bins of a round width, labelled by their range), for a bar chart from zero."""
    top = max(max(lengths), max_length)
    width = max(1, -(-top // bins))
    width = next(w for w in (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 500, 512, 1000, 1024,
                             2000, 2048, 4096, 8192, 10**9) if w >= width)
    counts = Counter(n // width for n in lengths)
    last = max(counts)
    return pd.DataFrame({"tokens": [f"{i * width}–{(i + 1) * width - 1}" for i in range(last + 1)],
                         "rows": [counts.get(i, 0) for i in range(last + 1)]})


def build(lab: Lab, path: gr.State, task: gr.State, options: gr.State) -> None:
    with gr.Accordion("Insight: token lengths, labels, which tokens are trained", open=False):
        with gr.Row():
            model = gr.Textbox(DEFAULT_MODELS["chat"], label="Tokenizer of model", elem_id="insight-model",
                               info="Lengths depend on the model's tokenizer; set to the model you will train.")
            max_len = gr.Number(TASK_DEFAULTS["chat"]["max_length"], label="Max length (tokens)", precision=0,
                                minimum=8, elem_id="insight-max")
            go = gr.Button("Analyse", elem_id="insight-go")
        stats = gr.Markdown(elem_id="insight-stats")
        with gr.Row():
            lengths = gr.BarPlot(x="tokens", y="rows", title="Token lengths (rows per length range)",
                                 y_lim=[0, None], elem_id="insight-lengths")
            labels = gr.BarPlot(x="label", y="rows", title="Labels", y_lim=[0, None], elem_id="insight-labels")
        example = gr.HighlightedText(label="First example: highlighted tokens carry the loss",
                                     color_map={"loss": "green"}, elem_id="insight-example")

    def analyse(data_path, model_ref, n, opts):
        keep = (gr.update(),) * 3
        if not data_path:
            yield ("⚠️ Nothing to analyse: choose a sample or upload a file the Data tab accepts (✅) first.",) + keep
            return
        yield ("Analysing… (the first use of a bundled model converts it once, about 40 s)",) + keep
        try:
            result = lab.insight(data_path, model_ref.strip(), int(n), opts)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            yield (f"⚠️ Could not analyse: {exc}",) + keep
            return
        label_df = pd.DataFrame({"label": list(result["labels"]), "rows": list(result["labels"].values())})
        bins = histogram(result["lengths"], result["max_length"])
        yield (stats_markdown(result), gr.BarPlot(value=bins, sort=list(bins["tokens"])),
               gr.BarPlot(value=label_df, visible=bool(result["labels"])),
               gr.HighlightedText(value=result["example"], visible=bool(result["example"])))

    def follow_task(t):
        t = t if t in TASK_DEFAULTS else "chat"
        return DEFAULT_MODELS[t], TASK_DEFAULTS[t]["max_length"]

    task.change(follow_task, task, [model, max_len], **PRIVATE)
    go.click(analyse, [path, model, max_len, options], [stats, lengths, labels, example], **PRIVATE)
