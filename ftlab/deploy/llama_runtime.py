"""A GGUF file run by llama.cpp (through llama-cpp-python): loaded once, token ids in, token ids or log-likelihoods
out. The export's checks (greedy answers equal transformers', perplexity of each quantized file) and the faster
CPU chat path (ftlab.serve) go through it.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path


def load(path: Path, n_ctx: int = 2048, logits_all: bool = False, lora: Path | None = None):
    """A llama_cpp.Llama on `path` (quiet, every CPU core); `lora` a GGUF adapter applied on top."""
    import llama_cpp

    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, logits_all=logits_all, verbose=False,
                           n_threads=os.cpu_count() or 1, lora_path=str(lora) if lora else None, seed=0)


def greedy(llm, prompt_ids: list[int], max_new: int) -> list[int]:
    """The most likely next token, one at a time, until an end-of-generation token or `max_new` tokens (the end
    token itself is not returned)."""
    llm.reset()
    out = []
    for token in llm.generate(prompt_ids, temp=0.0, top_k=1, reset=True):
        if llm.token_eos() == token or _is_end(llm, token) or len(out) >= max_new:
            break
        out.append(token)
    return out


def _is_end(llm, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), token))


def nll(llm, examples: list[dict]) -> tuple[float, int]:
    """(summed negative log-likelihood, tokens scored) of the examples' trained tokens (labels not -100), each
    example's input_ids evaluated from scratch; `llm` loaded with logits_all."""
    import numpy as np

    total, count = 0.0, 0
    for ex in examples:
        ids, labels = ex["input_ids"], ex["labels"]
        llm.reset()
        llm.eval(ids)
        logits = np.asarray(llm.scores[: len(ids)], dtype=np.float64)
        for pos in range(1, len(ids)):
            if labels[pos] == -100:
                continue
            row = logits[pos - 1]
            top = row.max()
            total += float(top + math.log(np.exp(row - top).sum()) - row[ids[pos]])
            count += 1
    return total, count


def tokens_per_second(llm, prompt_ids: list[list[int]], max_new: int) -> float:
    """Generated tokens per second, greedy, over the prompts one after another."""
    started, made = time.perf_counter(), 0
    for ids in prompt_ids:
        made += len(greedy(llm, ids, max_new))
    return made / max(time.perf_counter() - started, 1e-9)
