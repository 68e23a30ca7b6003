"""Pieces shared by the tabs: private (UI-only) events, and the run picker of the Chat and Classify tabs."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab.config import DEFAULT_MODELS
from ftlab.service import Lab

PRIVATE = {"api_visibility": "private"}
"""UI events stay off the API page; the stable API is ftlab/ui/endpoints.py."""


@dataclass
class RunPicker:
    run: gr.Dropdown
    refresh: object
    """An event handler returning the dropdown's fresh choices (newest run selected)."""


def run_choices(lab: Lab, task: str) -> list[tuple[str, str]]:
    """Finished runs of `task` that have saved weights, newest first."""
    runs = [r for r in lab.runs() if r["task"] == task and r["has_weights"]]
    return [(f"{r['run_id']} ({r['method']}, {r['state']}, {r['data']})", r["run_id"]) for r in runs]


def run_picker(lab: Lab, task: str, elem_id: str, info: str, include_base: bool = False) -> RunPicker:
    """A run dropdown with a refresh button; with include_base, a last choice for the base model alone."""

    def refresh():
        choices = run_choices(lab, task)
        if include_base:
            choices = choices + [(f"Base model only: {DEFAULT_MODELS[task]} (no run)", "")]
        return gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    with gr.Row():
        run = gr.Dropdown([], label="Fine-tuned run", info=info, elem_id=elem_id, scale=3)
        reload_btn = gr.Button("↻ Refresh runs", scale=1, elem_id=f"{elem_id}-refresh")
    reload_btn.click(refresh, None, run, **PRIVATE)
    return RunPicker(run, refresh)
