"""Export a run from the Runs tab: the adapter or the merged model as a zip (with its model card), or pushed to
the Hugging Face Hub with a token that stays in memory (a password field, never saved or logged)."""

from __future__ import annotations

import gradio as gr

from ftlab.service import Lab
from ftlab.ui.common import PRIVATE


def build(lab: Lab, runs: list[str]) -> gr.Dropdown:
    with gr.Accordion("Export a run", open=False):
        run = gr.Dropdown(runs, label="Run", elem_id="export-run")
        merge = gr.Checkbox(False, label="Merge the adapter into the base model (full-precision reload)",
                            elem_id="export-merge")
        with gr.Row():
            make_zip = gr.Button("Make zip", elem_id="export-zip")
            download = gr.DownloadButton("Download zip", visible=False, elem_id="export-download")
        with gr.Row():
            repo = gr.Textbox(label="Hub repo id", placeholder="your-name/my-tuned-model", elem_id="export-repo")
            token = gr.Textbox(label="Hub token (write access; used once, never stored)", type="password",
                               elem_id="export-token")
            private = gr.Checkbox(True, label="Private repo")
            push = gr.Button("Push to Hub", elem_id="export-push")
        result = gr.Markdown("", elem_id="export-result")

    def zip_it(run_id, merge_v):
        if not run_id:
            raise gr.Error("Pick a run to export.")
        try:
            path = lab.export_zip(run_id, merge_v)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return gr.update(value=path, visible=True), f"Ready: `{path.rsplit('/', 1)[-1]}`"

    def push_it(run_id, merge_v, repo_v, token_v, private_v):
        if not run_id:
            raise gr.Error("Pick a run to export.")
        try:
            url = lab.push_to_hub(run_id, repo_v, token_v, merge_v, private_v)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return f"Pushed to {url}", ""

    make_zip.click(zip_it, [run, merge], [download, result], **PRIVATE)
    push.click(push_it, [run, merge, repo, token, private], [result, token], **PRIVATE)
    return run
