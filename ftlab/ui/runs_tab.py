"""Runs tab: every run with its state, task, method, key metrics and duration; pick several to overlay their
loss curves and see how their configs differ; export one (ftlab.ui.export_panel)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftlab.service import Lab
from ftlab.ui import export_panel
from ftlab.ui.common import PRIVATE
from ftlab.ui.dashboard import loss_frame

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]
COLUMNS = ["run_id", "state", "task", "method", "model", "data", "step", "loss", "eval_loss", "key_metric",
           "duration_s"]


@dataclass
class RunsTab:
    refresh: object
    outputs: list


def table(lab: Lab) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in COLUMNS} for r in lab.runs()], columns=COLUMNS)


def flat(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and key != "columns":
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_diff(configs: dict[str, dict]) -> pd.DataFrame:
    """One row per setting whose value differs between the runs, a column per run."""
    flats = {run_id: flat(cfg) for run_id, cfg in configs.items()}
    keys = sorted({k for f in flats.values() for k in f})
    rows = [{"setting": k, **{run_id: str(f.get(k, "")) for run_id, f in flats.items()}} for k in keys
            if len({str(f.get(k)) for f in flats.values()}) > 1]
    return pd.DataFrame(rows or None, columns=["setting", *flats])


def overlay(lab: Lab, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = [loss_frame(lab.status(r).get("metrics", []), r) for r in run_ids or []]
    frames = [f[~f["series"].str.endswith(" train")] for f in frames if len(f)]  # smoothed train and eval only
    loss = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["step", "loss", "series"])
    return loss, config_diff({r: lab.run_config(r) for r in run_ids or []})


def build(lab: Lab) -> RunsTab:
    runs = gr.Dataframe(table(lab), label="All runs (newest first)", interactive=False, elem_id="runs-list")
    with gr.Row():
        picked = gr.Dropdown([r["run_id"] for r in lab.runs()], multiselect=True, label="Compare runs",
                             elem_id="compare-runs", info="Pick two or more to overlay their curves.")
        reload_btn = gr.Button("↻ Refresh", size="sm")
    plot = gr.LinePlot(x="step", y="loss", color="series", title="Loss of the chosen runs (smoothed train, eval)",
                       elem_id="compare-plot")
    diff = gr.Dataframe(label="Settings that differ", interactive=False, elem_id="config-diff")
    def compare(ids):
        loss, settings = overlay(lab, ids)
        names = list(dict.fromkeys(loss["series"]))  # a colour per series, so series added later show too
        return gr.update(value=loss, color_map={n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}), settings

    picked.change(compare, picked, [plot, diff], **PRIVATE)
    export_run = export_panel.build(lab, [r["run_id"] for r in lab.runs() if r.get("has_weights")])

    def refresh(ids=None):
        listed = lab.runs()
        ids = [r for r in ids or [] if r in {x["run_id"] for x in listed}]
        return (table(lab), gr.update(choices=[r["run_id"] for r in listed], value=ids),
                gr.update(choices=[r["run_id"] for r in listed if r.get("has_weights")]))

    reload_btn.click(refresh, picked, [runs, picked, export_run], **PRIVATE)
    with gr.Accordion("Import an adapter trained elsewhere", open=False):
        gr.Markdown("A zip of PEFT's `adapter_config.json` and `adapter_model.safetensors` becomes a run: chat with "
                    "it beside its base, serve it, export it. Pickled weights (`.bin`, `.pt`) are refused.")
        with gr.Row():
            adapter_zip = gr.File(label="Adapter zip", file_types=[".zip"], elem_id="import-file")
            base = gr.Textbox(label="Base model (empty: the one its config names)", elem_id="import-base")
        import_btn = gr.Button("Import", elem_id="import-go")
        imported = gr.Markdown("", elem_id="import-result")

    def import_it(path, base_v, ids):
        if not path:
            raise gr.Error("Choose an adapter zip first.")
        try:
            run_id = lab.import_adapter(path, base_v or "")
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return (f"Imported as run `{run_id}`: pick it in the Chat tab.", *refresh(ids))

    import_btn.click(import_it, [adapter_zip, base, picked], [imported, runs, picked, export_run], **PRIVATE)
    return RunsTab(lambda: refresh(), [runs, picked, export_run])
