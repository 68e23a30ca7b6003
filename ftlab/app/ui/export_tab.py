"""Export tab: a run's adapter or merged model as a zip, or pushed to the Hub (ftlab.app.ui.export_panel); and an
adapter trained elsewhere imported as a run (safetensors only)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab.app.lab import Lab
from ftlab.app.ui import export_panel
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import t, tr


@dataclass
class ExportTab:
    run: gr.Dropdown
    refresh: object


def exportable(lab: Lab) -> list[str]:
    return [r["run_id"] for r in lab.runs() if r.get("has_weights")]


def build(lab: Lab) -> ExportTab:
    run = export_panel.build(lab, exportable(lab))
    with tr("import.panel", gr.Accordion, open=False):
        tr("import.about", gr.Markdown)
        with gr.Row():
            adapter_zip = tr("import.file", gr.File, file_types=[".zip"], elem_id="import-file")
            base = tr("import.base", gr.Textbox, elem_id="import-base")
        import_btn = tr("import.go", gr.Button, elem_id="import-go")
        imported = gr.Markdown("", elem_id="import-result")

    def refresh(chosen=None):
        """The runs with weights, the newest (or `chosen`) selected."""
        runs = exportable(lab)
        return gr.update(choices=runs, value=chosen if chosen in runs else (runs[0] if runs else None))

    def import_it(path, base_v):
        if not path:
            raise gr.Error(t("import.no_file"), title=t("banner.not_yet"))
        try:
            run_id = lab.import_adapter(path, base_v or "")
        except ValueError as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None
        return t("import.done", run=run_id), refresh(run_id)

    import_btn.click(import_it, [adapter_zip, base], [imported, run], **PRIVATE)
    return ExportTab(run, refresh)
