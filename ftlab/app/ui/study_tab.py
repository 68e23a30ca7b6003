"""Auto-tune tab: a study's budget and state, its trials (each a run: settings, state, the validation metric),
the metric of every trial over its epochs, which parameters mattered, and the best trial, one click from being
compared with its base model. The studies start from the Train tab's Auto-tune button (ftlab.app.tuning)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftlab.app.lab import Lab
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import redraw, t, tr

POLL_S = 3.0
COLUMNS = ["#", "state", "method", "learning_rate", "epochs", "batch_size", "lora.r", "warmup_ratio", "value",
           "minutes", "run"]

SHOWN = {"lr_scale": "learning_rate", "lora_r": "lora.r"}
"""A study's parameters under the names of the trials table's columns (the learning rate is searched as a factor of
the method's default)."""


@dataclass
class StudyTab:
    study: gr.Dropdown
    best: gr.State
    """The best trial's run id (None until a trial has finished)."""
    compare: gr.Button
    show: tuple
    """(fn, inputs, outputs): draw the study picked."""


def choices(lab: Lab) -> list[tuple[str, str]]:
    return [(f"{s['id']} ({t('study.state.' + s['state'])})", s["id"]) for s in lab.studies_list()]


def summary(found: dict) -> str:
    """The study in a few lines: what it tunes, its budget, how far it is, its best trial."""
    b, trials = found["budget"], found["trials"]
    done = sum(tr_["state"] in ("complete", "stopped", "pruned", "fail") for tr_ in trials)
    lines = [t("study.summary", state=t("study.state." + found["state"]), model=found["base"]["model"] or "-",
               data=found["base"]["data"], metric=found["metric"], done=done, trials=b["trials"],
               pruned=sum(tr_["state"] == "pruned" for tr_ in trials),
               minutes=f"{b['minutes']:g}" if b["minutes"] else "∞")]
    if found.get("best_run"):
        best = next(tr_ for tr_ in trials if tr_["run_id"] == found["best_run"])
        lines.append(t("study.best", n=best["number"], run=best["run_id"], metric=found["metric"],
                       value=f"{best['value']:.4g}", settings=settings_text(best)))
    elif found["state"] != "running":
        lines.append(t("study.no_best"))
    if found["importance"].get("at") == "first_rung":
        lines.append(t("study.importance_early"))
    return "\n\n".join(lines)


def settings_text(trial: dict) -> str:
    s = trial["settings"]
    return ", ".join([trial["params"].get("method", "?"), f"lr {s.get('learning_rate', 0):.3g}",
                      f"{s.get('epochs', 0):g} ep", f"batch {s.get('batch_size')}"]
                     + ([f"r {s['lora.r']}"] if "lora.r" in s else []))


def trials_table(found: dict) -> pd.DataFrame:
    rows = [[tr_["number"], t("study.trial." + tr_["state"]), tr_["params"].get("method"),
             tr_["settings"].get("learning_rate"), tr_["settings"].get("epochs"), tr_["settings"].get("batch_size"),
             tr_["settings"].get("lora.r", ""), tr_["settings"].get("warmup_ratio"),
             round(tr_["value"] if tr_["value"] is not None else tr_["last"] or float("nan"), 4), tr_["minutes"],
             tr_["run_id"]] for tr_ in found["trials"]]
    return pd.DataFrame(rows, columns=COLUMNS)


def curves(found: dict) -> pd.DataFrame:
    return pd.DataFrame([{"seconds": x, "value": y, "trial": f"#{tr_['number']}"} for tr_ in found["trials"]
                         for x, y in tr_["curve"]], columns=["seconds", "value", "trial"])


def importance(found: dict) -> pd.DataFrame:
    return pd.DataFrame([{"parameter": SHOWN.get(k, k), "importance": v}
                         for k, v in found["importance"].get("of", {}).items()],
                        columns=["parameter", "importance"])


def build(lab: Lab) -> StudyTab:
    tr("study.intro", gr.Markdown)
    with gr.Row():
        pick = tr("study.pick", gr.Dropdown, choices=choices(lab), value=None, elem_id="study-pick")
        refresh = tr("common.refresh", gr.Button, size="sm")
    text = gr.Markdown("", elem_id="study-summary")
    with gr.Row():
        stop = tr("study.stop", gr.Button, variant="stop", interactive=False, elem_id="study-stop")
        compare = tr("study.compare", gr.Button, variant="primary", interactive=False, elem_id="study-compare")
    table = tr("study.trials", gr.Dataframe, interactive=False, elem_id="study-trials", wrap=True)
    with gr.Row():
        plot = tr("study.curves", gr.LinePlot, x="seconds", y="value", color="trial", elem_id="study-curves")
        bars = tr("study.importance", gr.BarPlot, x="parameter", y="importance", y_lim=[0, 1],
                  elem_id="study-importance")
    best = gr.State(None)
    timer = gr.Timer(POLL_S, active=False)

    def show(study_id):
        if not study_id:
            return "", None, None, None, gr.update(interactive=False), gr.update(interactive=False), None, \
                gr.Timer(active=False)
        try:
            found = lab.study(study_id)
        except ValueError as exc:
            return str(exc), None, None, None, gr.update(interactive=False), gr.update(interactive=False), None, \
                gr.Timer(active=False)
        running = found["state"] == "running"
        return (summary(found), trials_table(found), curves(found), importance(found),
                gr.update(interactive=running), gr.update(interactive=bool(found.get("best_run"))),
                found.get("best_run"), gr.Timer(active=running))

    outputs = [text, table, plot, bars, stop, compare, best, timer]
    quiet = dict(show_progress="hidden", **PRIVATE)
    pick.change(show, pick, outputs, **PRIVATE)
    timer.tick(show, pick, outputs, **quiet)
    refresh.click(lambda s: gr.update(choices=choices(lab), value=s), pick, pick, **PRIVATE)
    stop.click(lambda s: lab.stop_study(s) if s else None, pick, None, **PRIVATE)
    redraw(show, [pick], outputs)
    redraw(lambda s: gr.update(choices=choices(lab), value=s), [pick], pick)
    return StudyTab(pick, best, compare, (show, pick, outputs))
