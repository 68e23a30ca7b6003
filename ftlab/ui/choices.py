"""Dropdown choices shared by the Chat and Classify tabs: finished runs of a task that have saved weights."""

from __future__ import annotations

import gradio as gr

from ftlab.config import DEFAULT_MODELS
from ftlab.service import Lab


def run_choices(lab: Lab, task: str) -> list[tuple[str, str]]:
    runs = [r for r in lab.runs() if r["task"] == task and r["has_weights"]]
    return [(f"{r['run_id']} ({r['method']}, {r['state']}, {r['data']})", r["run_id"]) for r in runs]


def refresher(lab: Lab, task: str, include_base: bool):
    """An event handler that refreshes a run dropdown, keeping the newest run selected by default."""

    def refresh():
        choices = run_choices(lab, task)
        if include_base:
            choices = choices + [(f"Base model only: {DEFAULT_MODELS[task]} (no run)", "")]
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    return refresh
