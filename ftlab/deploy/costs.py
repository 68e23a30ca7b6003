"""What each export format costs, measured on the run's own validation rows on this machine: size on disk, load
time, speed (generated tokens/s for chat, rows/s for classifiers) and quality next to the unexported model
(perplexity of the trained tokens for chat; accuracy and macro F1 for classifiers). Kept as the run's
`exports/costs.json` and written into its model card, so a person picks a format with the numbers in front of them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ftlab import data, modeling, tasks
from ftlab.runs.run_dir import RunDir

ROWS = 32
"""Validation rows measured (the first of the run's held-out split)."""
PROMPTS, NEW_TOKENS = 4, 48
"""Chat speed: greedy replies to this many validation prompts, at most this many tokens each."""


def _validation(run_id: str):
    cfg = RunDir(run_id).config()
    splits = data.load_splits(cfg.data, cfg.train.seed)
    return cfg, splits.dataset.format, splits.val[:ROWS]


def _mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def _unexported_mb(run_id: str) -> float:
    """What the unexported run needs on disk: its weights, and for an adapter the base model's weights too."""
    run = RunDir(run_id)
    weights = run.weights_dir()
    base = modeling.weights_mb(run.config().model_ref()) if weights == run.adapter_dir else 0.0
    return round(_mb(weights) + base, 1)


def chat_costs(run_id: str, kinds: tuple[str, ...] = ("f16", "q8_0", "q4_k_m")) -> list[dict]:
    """One row per format: the run as served by transformers, then each GGUF through llama.cpp."""
    from ftlab.deploy import gguf_export, llama_runtime

    cfg, fmt, rows = _validation(run_id)
    run = RunDir(run_id)
    tok = modeling.load_tokenizer(run.tokenizer_dir())
    task = tasks.get(cfg.task)
    examples = [e for r in rows for e in task.encode(tok, fmt, r, cfg.train.max_length, {}, False)]
    prompts = [encode_prompt(tok, fmt, r) for r in rows[:PROMPTS]]
    out = [_transformers_row(run_id, examples, prompts)]
    for kind in kinds:
        path = gguf_export.build_gguf(run_id, kind)
        started = time.perf_counter()
        llm = llama_runtime.load(path, n_ctx=max(cfg.train.max_length, 512) + NEW_TOKENS, logits_all=True)
        loaded = time.perf_counter() - started
        total, count = llama_runtime.nll(llm, examples)
        out.append({"format": f"GGUF {kind}", "runtime": "llama.cpp", "size_mb": _mb(path),
                    "load_s": round(loaded, 2), "speed": round(llama_runtime.tokens_per_second(llm, prompts,
                                                                                             NEW_TOKENS), 1),
                    "unit": "tokens/s", "perplexity": round(math.exp(total / max(count, 1)), 3)})
        del llm
    return out


def encode_prompt(tok, fmt: str, row: dict) -> list[int]:
    """A validation conversation up to its last assistant turn, as the prompt ids the model answers."""
    from ftlab.data import encode

    messages = data.to_messages(fmt, row)
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))
    return encode.prompt_ids(tok, messages[:last])


def _transformers_row(run_id: str, examples: list[dict], prompts: list[list[int]]) -> dict:
    import torch

    from ftlab.serve import generation
    from ftlab.serve.model_server import ModelServer

    started = time.perf_counter()
    pair, model, context = ModelServer(max_loaded=1).pick(run_id, "chat")
    loaded = time.perf_counter() - started
    total, count = 0.0, 0
    with torch.no_grad(), context():
        for ex in examples:
            ids, labels = torch.tensor([ex["input_ids"]]), torch.tensor([ex["labels"]])
            logits = model(input_ids=ids).logits[0, :-1].float()
            keep = labels[0, 1:] != -100
            total += float(torch.nn.functional.cross_entropy(logits[keep], labels[0, 1:][keep], reduction="sum"))
            count += int(keep.sum())
    gen, made = generation.GenConfig(max_new_tokens=NEW_TOKENS, temperature=0), 0
    started = time.perf_counter()
    for ids in prompts:
        decoder = generation.Decoder(model, ids, gen, {pair.tokenizer.eos_token_id}, context)
        while not decoder.done:
            decoder.step()
        made += len(decoder.tokens)
    speed = made / max(time.perf_counter() - started, 1e-9)
    return {"format": "safetensors (not exported)", "runtime": "transformers", "size_mb": _unexported_mb(run_id),
            "load_s": round(loaded, 2), "speed": round(speed, 1), "unit": "tokens/s",
            "perplexity": round(math.exp(total / max(count, 1)), 3)}


def classify_costs(run_id: str) -> list[dict]:
    """One row per format: the run in PyTorch, then ONNX fp32 and int8 through onnxruntime."""
    from ftlab.deploy import onnx_export
    from ftlab.serve.model_server import ModelServer

    cfg, fmt, rows = _validation(run_id)
    texts = [r["text"] if not r.get("text_pair") else [r["text"], r["text_pair"]] for r in rows]
    truth = [str(r["label"]) for r in rows]
    folder = onnx_export.export_onnx(run_id)
    server = ModelServer(max_loaded=1)
    out = []
    for name, runtime, model, size in (("PyTorch (not exported)", "transformers", run_id, _unexported_mb(run_id)),
                                       ("ONNX fp32", "onnxruntime", f"{run_id}:onnx", _mb(folder / "model.onnx")),
                                       ("ONNX int8", "onnxruntime", f"{run_id}:onnx-int8",
                                        _mb(folder / "model-int8.onnx"))):
        started = time.perf_counter()
        server.predict(model, texts[:1])  # loads it
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        labels = [p["label"] for p in server.predict(model, texts)]
        speed = len(texts) / max(time.perf_counter() - started, 1e-9)
        out.append({"format": name, "runtime": runtime, "size_mb": size, "load_s": round(loaded, 2),
                    "speed": round(speed, 1), "unit": "rows/s", **_accuracy(labels, truth)})
    return out


def _accuracy(predicted: list[str], truth: list[str]) -> dict:
    right = sum(p == t for p, t in zip(predicted, truth))
    f1s = []
    for label in sorted(set(truth)):
        tp = sum(p == t == label for p, t in zip(predicted, truth))
        fp, fn = sum(p == label != t for p, t in zip(predicted, truth)), sum(t == label != p for p, t in
                                                                             zip(predicted, truth))
        f1s.append(2 * tp / max(2 * tp + fp + fn, 1))
    return {"accuracy": round(right / max(len(truth), 1), 4), "macro_f1": round(sum(f1s) / max(len(f1s), 1), 4)}


def measure(run_id: str) -> list[dict]:
    """The costs of the run's formats (exporting what is not exported yet), kept in `exports/costs.json` and in
    its model card."""
    task = tasks.get(RunDir(run_id).config().task)
    rows = chat_costs(run_id) if task.try_out == "chat" else classify_costs(run_id)
    run = RunDir(run_id)
    (run.path / "exports").mkdir(exist_ok=True)
    (run.path / "exports" / "costs.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    _into_card(run, rows)
    return rows


QUALITY = ("perplexity", "accuracy", "macro_f1")
HEAD = {"format": "format", "runtime": "runtime", "size_mb": "size (MB)", "load_s": "load (s)",
        "speed": "speed ({unit})", "perplexity": "perplexity", "accuracy": "accuracy", "macro_f1": "macro F1"}
"""Column -> its header in the model card (the Export tab passes its own words)."""


def table(rows: list[dict], head: dict | None = None) -> str:
    """The costs as a Markdown table, with `head`'s column headers (default: HEAD's English)."""
    head = head or HEAD
    columns = ["format", "runtime", "size_mb", "load_s", "speed", *(k for k in QUALITY if rows and k in rows[0])]
    unit = rows[0]["unit"] if rows else ""
    lines = ["| " + " | ".join(head[c].format(unit=unit) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


MARK = "## Deployment formats"


def _into_card(run: RunDir, rows: list[dict]) -> None:
    card = run.path / "README.md"
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8").split(MARK)[0].rstrip()
    note = (f"\n\n{MARK}\n\nMeasured by ftlab on {len(rows) and ROWS} validation rows of this run, on the machine "
            f"that trained it ({time.strftime('%Y-%m-%d')}):\n\n{table(rows)}\n")
    card.write_text(text + note, encoding="utf-8")
