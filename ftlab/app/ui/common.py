"""Pieces shared by the tabs: private (UI-only) events, and the run picker of the Chat and Classify tabs."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab import tasks
from ftlab.app.lab import Lab
from ftlab.app.ui.dashboard import state_name
from ftlab.app.ui.translate import redraw, t, tr

PRIVATE = {"api_visibility": "private"}
"""UI events stay off the API page; the stable API is ftlab/app/ui/endpoints.py."""


@dataclass
class RunPicker:
    run: gr.Dropdown
    refresh: object
    """(chosen=None) -> the dropdown's fresh choices, `chosen` selected while listed, else the newest run."""
    started: object = None
    """A hidden component set to the id of a run started from this panel (a preference run on its votes)."""


def run_choices(lab: Lab, task: str) -> list[tuple[str, str]]:
    """Finished runs with saved weights whose task answers in the `task` panel (chat: chat and preference runs),
    newest first."""
    runs = [r for r in lab.runs() if getattr(tasks.find(r["task"]), "try_out", None) == task and r["has_weights"]]
    return [(f"{r['run_id']} ({r['method']}, {state_name(r['state'])}, {r['data']})", r["run_id"]) for r in runs]


def against_choices(lab: Lab, run_id: str | None) -> list[tuple[str, str]]:
    """What can answer in the base's pane next to `run_id`: its base model, then every other finished chat-panel run
    on that same base (the SFT run a preference run went on from, a rival tune), newest first."""
    model = next((r["model"] for r in lab.runs() if r["run_id"] == run_id), None)
    others = [(name, rid) for name, rid in run_choices(lab, "chat") if rid != run_id]
    same = {r["run_id"] for r in lab.runs() if r["model"] == model}
    return [(t("chat.against_base"), "")] + [(name, rid) for name, rid in others if rid in same]


def run_picker(lab: Lab, task: str, elem_id: str, key: str, include_base: bool = False) -> RunPicker:
    """A run dropdown (label and help from the locale `key`) with a refresh button; with include_base, a last
    choice for the base model alone."""

    def listed():
        choices = run_choices(lab, task)
        if include_base:
            choices = choices + [(t("picker.base_only", model=tasks.get(task).default_model), "")]
        return choices

    def refresh(chosen=None):
        """Fresh choices with `chosen` (the page's current run) selected while it is listed, else the newest."""
        choices = listed()
        ids = [value for _, value in choices]
        return gr.Dropdown(choices=choices, value=chosen if chosen in ids else (ids[0] if ids else None))

    with gr.Row():
        run = tr(key, gr.Dropdown, choices=[], elem_id=elem_id, scale=3)
        reload_btn = tr("picker.refresh", gr.Button, scale=1, elem_id=f"{elem_id}-refresh")
    reload_btn.click(refresh, run, run, **PRIVATE)
    redraw(lambda: gr.update(choices=listed()), [], run)  # the choices' words in the new language, same choice
    return RunPicker(run, refresh)
