"""Chat answered from a run's GGUF export by llama.cpp: a model named `<run>:gguf-<type>` in the OpenAI API or in
Compare's "Next to it", and a plain run id when its GGUF was measured faster than transformers on this machine
(ftlab.deploy.costs; FTLAB_CHAT_RUNTIME=transformers keeps transformers, =llama.cpp takes an f16 or q8_0 export
without a measurement).

The prompt is the chat template's, tokenized by the run's own tokenizer, as on the transformers path; replies are
sampled by the same rule (ftlab.serve.generation.sample_next), so greedy replies of the f16 file match.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass

from ftlab import modeling
from ftlab.runs.run_dir import RUN_ID, RunDir

FAST_KINDS = ("q8_0", "f16")
"""The GGUF types a plain run id may be answered from: near-lossless ones only."""
CONTEXTS = int(os.environ.get("FTLAB_GGUF_CONTEXTS", 4))
"""Concurrent replies per GGUF file (each holds a context of its own)."""


@dataclass
class Served:
    task: str
    pool: object
    tokenizer: object
    eos: set

    @contextmanager
    def context(self):
        llm = self.pool.take()
        try:
            yield llm
        finally:
            self.pool.give(llm)

    def decoder(self, llm, messages: list[dict], gen):
        from ftlab.data import encode
        from ftlab.deploy import llama_runtime
        from ftlab.serve.model_server import PromptTooLong

        ids = encode.prompt_ids(self.tokenizer, messages)
        if len(ids) + 1 > llm.n_ctx():
            raise PromptTooLong(f"the conversation is {len(ids):,} tokens; this model's context holds "
                                f"{llm.n_ctx():,}: shorten it or clear the conversation")
        return llama_runtime.Decoder(llm, ids, gen, self.eos)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


COMPARE_KIND = "q8_0"
"""What Compare's llama.cpp path answers from: the base model and the run as GGUF q8_0 (made when first asked)."""


def load_base(ref: str, kind: str) -> Served:
    """A base model as GGUF of `kind` (written on first use, see gguf_export.build_base) ready to answer."""
    from ftlab.deploy import gguf_export, llama_runtime

    path = gguf_export.build_base(ref, kind)
    where = modeling.resolve(ref).path
    tok = modeling.load_tokenizer(where)
    return Served("chat", llama_runtime.Pool(path, CONTEXTS), tok, set(gguf_export.eos_ids(where, tok)))


def load(run_id: str, kind: str) -> Served:
    """The run's GGUF of `kind` ready to answer; ValueError when it has not been exported."""
    from ftlab.deploy import gguf_export, llama_runtime

    path = gguf_export.folder(run_id, kind) / f"{run_id}-{kind}.gguf"
    if not path.is_file():
        raise ValueError(f"run {run_id} has no export 'gguf-{kind}': export it first (Export tab, or python -m "
                         f"ftlab export {run_id} --format gguf --quant {kind})")
    run = RunDir(run_id)
    tok = modeling.load_tokenizer(run.tokenizer_dir())
    eos = {tok.eos_token_id, *gguf_export.eos_ids(path.parent, tok)}
    return Served("chat", llama_runtime.Pool(path, CONTEXTS, max(2048, run.config().train.max_length)), tok, eos)


def preferred(model: str) -> str:
    """What answers for `model`: itself, or for a plain run id its fastest measured GGUF export when that beat
    transformers (see the module's docstring)."""
    choice = os.environ.get("FTLAB_CHAT_RUNTIME", "auto")
    if choice == "transformers" or not RUN_ID.match(model or "") or ":" in model:
        return model
    folder = RunDir(model).path / "exports"
    made = [k for k in FAST_KINDS if (folder / f"gguf-{k}" / f"{model}-{k}.gguf").is_file()]
    if choice == "llama.cpp":
        return f"{model}:gguf-{made[0]}" if made else model
    try:
        rows = json.loads((folder / "costs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return model
    speed = {r["format"]: r["speed"] for r in rows}
    baseline = next((r["speed"] for r in rows if r["runtime"] == "transformers"), None)
    fast = [k for k in made if baseline and speed.get(f"GGUF {k}", 0) > baseline]
    return f"{model}:gguf-{max(fast, key=lambda k: speed[f'GGUF {k}'])}" if fast else model
