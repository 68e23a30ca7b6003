"""The Lab's exports of a run: a zip in a format (safetensors, GGUF with an Ollama Modelfile, ONNX), the formats
a run offers, what each costs, and an upload to the Hugging Face Hub. The run must be the caller's (`owned`).
Exporting and measuring run torch in a thread that ends with them (the caller's may live long: ftlab.train.threads)."""

from __future__ import annotations

from ftlab.app.votes import owned
from ftlab.train import threads


class Exports:
    @owned
    def export_zip(self, run_id: str, merge: bool = False, fmt: str = "safetensors") -> str:
        """A zip of the run in `fmt` (see ftlab.deploy.formats), with its model card: safetensors (the adapter,
        or with `merge` the base with the adapter folded in), gguf-<type> (with an Ollama Modelfile) or onnx."""
        from ftlab.deploy import formats

        folder = self.scratch_dir("ftlab-export-")
        return str(threads.apart(formats.zip_run, run_id, folder, fmt, merge))

    @owned
    def export_formats(self, run_id: str) -> list[str]:
        """The formats the run exports as (see ftlab.deploy.formats)."""
        from ftlab.deploy import formats

        return formats.offered(run_id)

    @owned
    def export_costs(self, run_id: str) -> list[dict]:
        """Size, load time, speed and quality of each export format of the run, measured on its validation rows
        (exporting the formats not made yet); also written into its model card."""
        from ftlab.deploy import costs

        return threads.apart(costs.measure, run_id)

    @owned
    def push_to_hub(self, run_id: str, repo_id: str, token: str, merge: bool = False, private: bool = True) -> str:
        """Upload the adapter (or merged model) and its card to a Hub repo; the token is used in memory only."""
        from ftlab.runs.export import push_to_hub

        return push_to_hub(run_id, repo_id, token, merge, private)
