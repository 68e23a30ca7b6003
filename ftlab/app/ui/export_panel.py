"""Export a run: the adapter or the merged model as a zip (with its model card), a chat model as GGUF with an Ollama
Modelfile, a classifier as ONNX; what each format costs (size, speed, quality on the run's validation rows) as a
table; or pushed to the Hugging Face Hub with a token that stays in memory (a password field, never saved or
logged)."""

from __future__ import annotations

import gradio as gr

from ftlab.app.lab import Lab
from ftlab.deploy import costs
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import redraw, t, tr


def build(lab: Lab, runs: list[str]) -> gr.Dropdown:
    tr("export.about", gr.Markdown)
    run = tr("export.run", gr.Dropdown, choices=runs, value=runs[0] if runs else None, elem_id="export-run")
    fmt = tr("export.format", gr.Dropdown, choices=formats_of(lab, runs[0] if runs else None), value="safetensors",
             elem_id="export-format")
    merge = tr("export.merge", gr.Checkbox, False, elem_id="export-merge")
    with gr.Row():
        make_zip = tr("export.zip", gr.Button, variant="primary", elem_id="export-zip")
        download = tr("export.download", gr.DownloadButton, visible=False, elem_id="export-download")
    with tr("export.hub", gr.Accordion, open=False):
        with gr.Row():
            repo = tr("export.repo", gr.Textbox, elem_id="export-repo")
            token = tr("export.token", gr.Textbox, type="password", elem_id="export-token")
            private = tr("export.private", gr.Checkbox, True)
        push = tr("export.push", gr.Button, elem_id="export-push")
    result = gr.Markdown("", elem_id="export-result")
    with gr.Row():
        tr("export.costs_about", gr.Markdown)
        measure = tr("export.measure", gr.Button, elem_id="export-measure")
    costs = gr.Markdown("", elem_id="export-costs")

    def zip_it(run_id, fmt_v, merge_v):
        if not run_id:
            raise gr.Error(t("export.no_run"), title=t("banner.not_yet"))
        try:
            path = lab.export_zip(run_id, merge_v, fmt_v or "safetensors")
        except (ValueError, RuntimeError) as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None
        return gr.update(value=path, visible=True), t("export.ready", name=path.rsplit("/", 1)[-1])

    def measure_it(run_id):
        if not run_id:
            raise gr.Error(t("export.no_run"), title=t("banner.not_yet"))
        try:
            return costs_table(lab.export_costs(run_id))
        except (ValueError, RuntimeError) as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None

    def push_it(run_id, merge_v, repo_v, token_v, private_v):
        if not run_id:
            raise gr.Error(t("export.no_run"), title=t("banner.not_yet"))
        try:
            url = lab.push_to_hub(run_id, repo_v, token_v, merge_v, private_v)
        except ValueError as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None
        return t("export.pushed", url=url), ""

    make_zip.click(zip_it, [run, fmt, merge], [download, result], **PRIVATE)
    measure.click(measure_it, run, costs, **PRIVATE)
    # the value stays safetensors, so the first run arriving changes no setting (that would hide a zip made at once)
    run.change(lambda rid: (gr.update(choices=formats_of(lab, rid), value="safetensors"), ""), run, [fmt, costs],
               **PRIVATE)
    fmt.change(lambda f: gr.update(visible=f == "safetensors"), fmt, merge, **PRIVATE)
    # another run or setting: the zip made before is not of it, so it goes
    gr.on([run.change, fmt.change, merge.change], lambda: (gr.update(value=None, visible=False), ""), None,
          [download, result], **PRIVATE)
    redraw(lambda: "", [], result)  # a message in the old language goes
    push.click(push_it, [run, merge, repo, token, private], [result, token], **PRIVATE)
    return run


def formats_of(lab: Lab, run_id: str | None) -> list[tuple[str, str]]:
    """The formats the run exports as, named in the caller's language; with no run, safetensors alone (every run
    exports as it), so the choice never holds a value outside its choices."""
    return [(t(f"export.fmt_{f.replace('-', '_')}"), f) for f in (lab.export_formats(run_id) if run_id else
                                                                    ["safetensors"])]


def costs_table(rows: list[dict]) -> str:
    """The measured costs as a table with the caller's column names."""
    return costs.table(rows, {column: t(f"export.col_{column}") for column in costs.HEAD})
