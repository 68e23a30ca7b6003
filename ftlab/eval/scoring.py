"""How a model does on the validation split, during training and base vs tuned at the end.

`Cases` are what the validation split asks: texts with label ids (classification) or conversations with the
reference reply (chat). `score()` gives the eval loss and every metric of ftlab.eval.metrics; `answer()` answers
prompts greedily. The base model's side is `base_view()`: the adapter switched off, or for full and freeze runs
the weights before the first step (greedy answers of a frozen base never change, so they are taken once).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from ftlab import methods
from ftlab.data import encode
from ftlab.train import losses
from ftlab.eval import metrics
from ftlab.data.formats import FORMATS, to_messages


@dataclass
class Cases:
    texts: list[str] = field(default_factory=list)
    """What a person reads: the text to classify, or the last user turn."""
    references: list = field(default_factory=list)
    """Label ids (classification) or the reference replies (chat)."""
    prompts: list = field(default_factory=list)
    """Classification: (text, text_pair) pairs; chat: the conversation up to the reply, as messages."""


def cases(fmt: str, rows: list[dict], labels: list[str]) -> Cases:
    """The validation rows as cases; plain-text data has none (it is scored by its loss alone)."""
    out = Cases()
    if fmt == "text":
        return out
    if FORMATS[fmt].task == "classify":
        index = {name: i for i, name in enumerate(labels)}
        for row in rows:
            pair = row.get("text_pair")
            out.texts.append(row["text"] + (f" / {pair}" if pair else ""))
            out.references.append(index[row["label"]])
            out.prompts.append((row["text"], pair))
        return out
    for row in rows:
        messages = to_messages(fmt, row)
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        users = [m["content"] for m in messages[:last] if m["role"] == "user"]
        out.texts.append(users[-1] if users else "")
        out.references.append(messages[last]["content"])
        out.prompts.append(messages[:last])
    return out


def probe_cases(probes: list[str], val: Cases, count: int, task: str) -> Cases:
    """The user's probe prompts, or the first `count` validation cases."""
    if not probes:
        return Cases(val.texts[:count], val.references[:count], val.prompts[:count])
    prompts = [(p, None) for p in probes] if task == "classify" else [[{"role": "user", "content": p}] for p in probes]
    return Cases(list(probes), [None] * len(probes), prompts)


def base_view(model, method_name: str):
    """(model to call, context) that answer as the base model. For full and freeze runs that is the model itself,
    so call it before the first step."""
    from peft import PeftModel

    if not isinstance(model, PeftModel):
        return model, nullcontext
    if methods.get(method_name).prompt_learning:
        return model.get_base_model(), lambda: saved_heads_off(model)
    return model, model.disable_adapter


@contextmanager
def saved_heads_off(model):
    """Switch off the trained copies of modules a PEFT model saves whole (a classifier head), so the base model's
    own modules answer. PEFT's disable_adapter does this too, but fails for prompt-learning classifiers."""
    from peft.utils.other import ModulesToSaveWrapper

    wrappers = [m for m in model.modules() if isinstance(m, ModulesToSaveWrapper)]
    for wrapper in wrappers:
        wrapper.enable_adapters(False)
    try:
        yield
    finally:
        for wrapper in wrappers:
            wrapper.enable_adapters(True)


def _none(done: int) -> None:
    """No one is told of progress."""


def loss(model, examples: list, pad_id: int, batch_size: int, device: str, autocast,
         progress=_none) -> tuple[float, list, int]:
    """(mean loss per scored token or row, predicted label ids for classification, tokens scored). Chat rows are
    scored in length order (less padding; the mean is the same) through ftlab.train.losses (no logits where nothing is
    scored); classification keeps the rows' order, which the predictions follow. `progress(n)` after each batch
    of n rows (as do the functions below)."""
    import torch

    chat = bool(examples) and "labels" in examples[0]
    if chat:
        examples = sorted(examples, key=lambda e: len(e["input_ids"]))
    total, weight, predicted = 0.0, 0, []
    with torch.no_grad(), autocast():
        for i in range(0, len(examples), batch_size):
            batch = {k: v.to(device) for k, v in encode.collate(examples[i : i + batch_size], pad_id).items()}
            progress(len(batch["input_ids"]))
            if chat:
                scored = losses.token_losses(model, batch)
                total, weight = total + float(scored.sum()), weight + len(scored)
                continue
            out = model(**batch)
            total, weight = total + float(out.loss) * len(batch["labels"]), weight + len(batch["labels"])
            predicted += out.logits.argmax(-1).tolist()
    return total / max(weight, 1), predicted, weight


def classify(model, tok, prompts: list, device: str, autocast, max_length: int, batch_size: int = 16,
             progress=_none) -> list[tuple[int, float]]:
    """(label id, probability) of each (text, text_pair), read as training read it (cut at `max_length`)."""
    import torch

    out = []
    with torch.no_grad(), autocast():
        for i in range(0, len(prompts), batch_size):
            firsts = [p[0] for p in prompts[i : i + batch_size]]
            seconds = [p[1] for p in prompts[i : i + batch_size]]
            enc = encode.classification_inputs(tok, firsts, seconds if any(s is not None for s in seconds) else None,
                                               max_length, padding=True, return_tensors="pt").to(device)
            probs = torch.softmax(model(**enc).logits.float(), -1)
            best = probs.max(-1)
            out += list(zip(best.indices.tolist(), best.values.tolist()))
            progress(len(firsts))
    return out


def generate(model, tok, conversations: list, max_new_tokens: int, device: str, autocast,
             batch_size: int = 8, progress=_none) -> list[str]:
    """Greedy replies to conversations, left-padded in batches."""
    import torch

    replies = []
    for i in range(0, len(conversations), batch_size):
        ids = [encode.prompt_ids(tok, c) for c in conversations[i : i + batch_size]]
        width = max(len(x) for x in ids)
        input_ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x in ids], device=device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=device)
        with torch.no_grad(), autocast():
            out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tok.pad_token_id, use_cache=True)
        replies += [tok.decode(row[width:], skip_special_tokens=True).strip() for row in out]
        progress(len(ids))
    return replies


def answer(model, tok, task: str, prompts: list, max_new_tokens: int, device: str, autocast, max_length: int,
           progress=_none) -> list:
    """Replies (chat) or (label id, probability) pairs (classification, texts cut at `max_length`)."""
    if not prompts:
        return []
    if task == "classify":
        return classify(model, tok, prompts, device, autocast, max_length, progress=progress)
    return generate(model, tok, prompts, max_new_tokens, device, autocast, progress=progress)


def scores(task: str, predictions: list, references: list, n_labels: int, loss_value: float, tokens: int) -> dict:
    """The eval_* metrics of one evaluation: predictions are label ids (classification) or replies (chat), for
    the first len(predictions) references."""
    result = {"eval_loss": loss_value}
    refs = references[: len(predictions)]
    if task == "classify":
        got = metrics.classification(list(predictions), refs, n_labels)
        result.update({f"eval_{k}": v for k, v in got.items() if k != "confusion_matrix"})
        return result
    if tokens:
        result["eval_perplexity"] = metrics.perplexity([loss_value * tokens], [tokens])
    if predictions:
        result.update({f"eval_{k}": v for k, v in metrics.generation(list(predictions), refs).items()})
    return result


def overfitting(history: list[tuple[int, float, float]], k: int) -> str:
    """A warning when, over the last `k` evaluations of `history` [(step, eval loss, train loss)], the eval loss
    rose every time while the train loss fell; else ""."""
    span = history[-(k + 1):]
    if not k or len(span) <= k:
        return ""
    rising = all(b[1] > a[1] for a, b in zip(span, span[1:]))
    if not rising or span[-1][2] >= span[0][2]:
        return ""
    return (f"possible overfitting: eval loss rose {k} evaluations in a row ({span[0][1]:.4f} at step {span[0][0]} -> "
            f"{span[-1][1]:.4f} at step {span[-1][0]}) while train loss fell ({span[0][2]:.4f} -> {span[-1][2]:.4f}); "
            "consider early stopping or fewer epochs")
