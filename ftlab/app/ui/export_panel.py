"""Export a run: the adapter or the merged model as a zip (with its model card), or pushed to the Hugging Face Hub
with a token that stays in memory (a password field, never saved or logged)."""

from __future__ import annotations

import gradio as gr

from ftlab.app.lab import Lab
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import redraw, t, tr


def build(lab: Lab, runs: list[str]) -> gr.Dropdown:
    tr("export.about", gr.Markdown)
    run = tr("export.run", gr.Dropdown, choices=runs, value=runs[0] if runs else None, elem_id="export-run")
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

    def zip_it(run_id, merge_v):
        if not run_id:
            raise gr.Error(t("export.no_run"), title=t("banner.not_yet"))
        try:
            path = lab.export_zip(run_id, merge_v)
        except ValueError as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None
        return gr.update(value=path, visible=True), t("export.ready", name=path.rsplit("/", 1)[-1])

    def push_it(run_id, merge_v, repo_v, token_v, private_v):
        if not run_id:
            raise gr.Error(t("export.no_run"), title=t("banner.not_yet"))
        try:
            url = lab.push_to_hub(run_id, repo_v, token_v, merge_v, private_v)
        except ValueError as exc:
            raise gr.Error(str(exc), title=t("banner.problem")) from None
        return t("export.pushed", url=url), ""

    make_zip.click(zip_it, [run, merge], [download, result], **PRIVATE)
    # another run or setting: the zip made before is not of it, so it goes
    gr.on([run.change, merge.change], lambda: (gr.update(value=None, visible=False), ""), None, [download, result],
          **PRIVATE)
    redraw(lambda: "", [], result)  # a message in the old language goes
    push.click(push_it, [run, merge, repo, token, private], [result, token], **PRIVATE)
    return run
