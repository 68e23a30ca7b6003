"""Compare tab: the tuned model next to its base on the same input: chat (ftlab.app.ui.chat_tab) for chat runs,
labels and probabilities (ftlab.app.ui.classify_tab) for classifiers. It shows the one that fits the task at hand."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab import tasks
from ftlab.app.lab import Lab
from ftlab.app.ui import chat_tab, classify_tab
from ftlab.app.ui.common import PRIVATE, RunPicker
from ftlab.app.ui.translate import tr


@dataclass
class CompareTab:
    chat: RunPicker
    classify: RunPicker
    show: object
    """(task) -> updates of `outputs`: the panel of that task shown, its runs refreshed."""
    outputs: list


def build(lab: Lab) -> CompareTab:
    kind = tr("compare.kind", gr.Radio, value="chat", elem_id="compare-kind")
    with gr.Group(visible=True) as chat_group:
        chat = chat_tab.build(lab)
    with gr.Group(visible=False) as classify_group:
        classify = classify_tab.build(lab)

    def show(task, current=None):
        """The panel of the current run's task (else `task`, the data's), on the current run."""
        task = run_task(lab, current) or task
        is_chat = tasks.find(task) is None or tasks.get(task).try_out == "chat"  # the panel the task answers in
        return ("chat" if is_chat else "classify", gr.update(visible=is_chat), gr.update(visible=not is_chat),
                chat.refresh(current), classify.refresh(current))

    outputs = [kind, chat_group, classify_group, chat.run, classify.run]
    kind.input(show, kind, outputs, **PRIVATE)
    return CompareTab(chat, classify, show, outputs)


def run_task(lab: Lab, run_id: str | None) -> str | None:
    """The task of a run the caller may see, or None."""
    try:
        return lab.run_config(run_id).get("task") if run_id else None
    except ValueError:
        return None
