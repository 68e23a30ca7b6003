"""The Data tab's insight panel: rows per split, token lengths against the max length, rows that would be cut,
the label distribution, and one example with the tokens that carry loss highlighted. Its texts are the locale keys
`insight.*` (ftlab/locales/data.yaml)."""

from __future__ import annotations

from collections import Counter

import gradio as gr
import pandas as pd

from ftlab import tasks
from ftlab.app.lab import Lab
from ftlab.app import texts
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import redraw, t, tr


def stats_markdown(result: dict) -> str:
    """The analysis in words, in the caller's language."""
    splits = result["splits"]
    text = t("insight.rows", train=splits["train"], validation=splits["validation"],
             source=texts.validation_source(splits))
    text += "\n\n" + t("insight.lengths_windows" if result["windows"] else "insight.lengths_cut",
                       mean=f"{result['mean_length']:.0f}", longest=result["longest"], over=result["truncated"],
                       rows=len(result["lengths"]), max_length=result["max_length"])
    if result["plain_template"]:
        text += "\n\n" + t("insight.plain_template")
    return text


def stats_text(shown: dict | None) -> str:
    """What the stats area shows, from what `analyse` last put there: a result, or a message key and its fields."""
    if not shown:
        return ""
    if "result" in shown:
        return stats_markdown(shown["result"])
    return t(shown["key"], **shown.get("fields", {}))


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
    with tr("insight.panel", gr.Accordion, open=False):
        with gr.Row():
            model = tr("insight.model", gr.Textbox, tasks.get("chat").default_model, elem_id="insight-model")
            max_len = tr("insight.max_length", gr.Number, tasks.get("chat").defaults["max_length"], precision=0,
                         minimum=8, elem_id="insight-max")
            go = tr("insight.go", gr.Button, elem_id="insight-go")
        stats = gr.Markdown(elem_id="insight-stats")
        with gr.Row():
            lengths = tr("insight.lengths", gr.BarPlot, x="tokens", y="rows", y_lim=[0, None],
                         elem_id="insight-lengths")
            labels = tr("insight.labels", gr.BarPlot, x="label", y="rows", y_lim=[0, None], elem_id="insight-labels")
        example = tr("insight.example", gr.HighlightedText, color_map={"loss": "green"}, elem_id="insight-example")
    shown = gr.State(None)  # what the stats area says, kept to say it again after a language switch

    def analyse(data_path, model_ref, n, opts):
        keep = (gr.update(),) * 3

        def say(key, **fields):
            note = {"key": key, "fields": fields}
            return (stats_text(note),) + keep + (note,)

        if not data_path:
            yield say("insight.nothing")
            return
        yield say("insight.analysing")
        try:
            result = lab.insight(data_path, model_ref.strip(), int(n), opts)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            yield say("insight.failed", problem=str(exc))
            return
        label_df = pd.DataFrame({"label": list(result["labels"]), "rows": list(result["labels"].values())})
        bins = histogram(result["lengths"], result["max_length"])
        yield (stats_markdown(result), gr.BarPlot(value=bins, sort=list(bins["tokens"])),
               gr.BarPlot(value=label_df, visible=bool(result["labels"])),
               gr.HighlightedText(value=result["example"], visible=bool(result["example"])), {"result": result})

    def follow_task(task_v):
        task_v = task_v if task_v in tasks.names() else "chat"
        return tasks.get(task_v).default_model, tasks.get(task_v).defaults["max_length"]

    task.change(follow_task, task, [model, max_len], **PRIVATE)
    go.click(analyse, [path, model, max_len, options], [stats, lengths, labels, example, shown], **PRIVATE)
    # other data: the last analysis is of the old data, so it goes (press Analyse again)
    path.change(lambda: ("", gr.BarPlot(value=None), gr.BarPlot(value=None), gr.HighlightedText(value=None), None),
                None, [stats, lengths, labels, example, shown], **PRIVATE)
    redraw(stats_text, [shown], stats)
