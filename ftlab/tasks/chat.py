"""Chat: a causal language model trained on the assistant turns of conversations (or on every token of plain
text), evaluated by its loss and perplexity and by its greedy replies against the reference ones (BLEU, chrF,
ROUGE-L, exact match), and compared base vs tuned reply by reply (sentence chrF)."""

from __future__ import annotations

from ftlab import metrics
from ftlab.tasks import lm_loss
from ftlab.tasks.base import Cases, Task, nobody


class Chat(Task):
    name = "chat"
    default_model = "HuggingFaceTB/SmolLM2-135M-Instruct"
    defaults = {"learning_rate": 2e-4, "epochs": 3.0, "batch_size": 4, "max_length": 256}
    key_metric = "eval_perplexity"

    def encode(self, tok, fmt, row, max_length, label_index, train_on_prompt):
        from ftlab.data import encode

        return encode.encode_row(tok, fmt, row, max_length, None, train_on_prompt)

    def loss(self, model, batch, forward=None, cfg=None):
        if forward is None or forward is model:  # the output layer only where a token is trained
            return lm_loss.causal_loss(model, batch)
        return forward(**batch).loss

    def units(self, batch):
        return self.scored_tokens(batch)

    def scored_tokens(self, batch):
        return int((batch["labels"][:, 1:] != lm_loss.IGNORE).sum())

    def cases(self, fmt, rows, labels):
        from ftlab.data.formats import to_messages

        out = Cases()
        if fmt == "text":  # plain text asks nothing: it is scored by its loss alone
            return out
        for row in rows:
            messages = to_messages(fmt, row)
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            users = [m["content"] for m in messages[:last] if m["role"] == "user"]
            out.texts.append(users[-1] if users else "")
            out.references.append(messages[last]["content"])
            out.prompts.append(messages[:last])
        return out

    def probe_prompts(self, probes):
        return [[{"role": "user", "content": p}] for p in probes]

    def eval_loss(self, model, examples, pad_id, batch_size, device, autocast, progress=nobody, cfg=None):
        """Rows in length order (less padding; the mean is the same), through lm_loss (no logits where nothing is
        scored): (mean loss per trained token, [], trained tokens)."""
        import torch

        from ftlab.data import encode

        examples = sorted(examples, key=lambda e: len(e["input_ids"]))
        total, weight = 0.0, 0
        with torch.no_grad(), autocast():
            for i in range(0, len(examples), batch_size):
                batch = {k: v.to(device) for k, v in encode.collate(examples[i : i + batch_size], pad_id).items()}
                progress(len(batch["input_ids"]))
                scored = lm_loss.token_losses(model, batch)
                total, weight = total + float(scored.sum()), weight + len(scored)
        return total / max(weight, 1), [], weight

    def answered(self, cfg, final):
        return cfg.eval.report_rows if final else cfg.eval.generate_rows

    def answer(self, model, tok, prompts, cfg, device, autocast, progress=nobody, batch_size: int = 8):
        """Greedy replies to conversations, left-padded in batches."""
        import torch

        from ftlab.data import encode

        replies = []
        for i in range(0, len(prompts), batch_size):
            ids = [encode.prompt_ids(tok, c) for c in prompts[i : i + batch_size]]
            width = max(len(x) for x in ids)
            input_ids = torch.tensor([[tok.pad_token_id] * (width - len(x)) + x for x in ids], device=device)
            mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids], device=device)
            with torch.no_grad(), autocast():
                out = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=cfg.eval.max_new_tokens,
                                     do_sample=False, pad_token_id=tok.pad_token_id, use_cache=True)
            replies += [tok.decode(row[width:], skip_special_tokens=True).strip() for row in out]
            progress(len(ids))
        return replies

    def scores(self, predictions, answers, references, labels, loss, weight, cfg):
        result = {"eval_loss": loss}
        replies = answers[: cfg.eval.generate_rows]
        if weight:
            result["eval_perplexity"] = metrics.perplexity([loss * weight], [weight])
        if replies:
            found = metrics.generation(list(replies), references[: len(replies)])
            result.update({f"eval_{k}": v for k, v in found.items()})
        return result

    def compare(self, labels, val, base, tuned):
        n = min(len(base), len(tuned))
        refs = val.references[:n]
        rows = []
        for prompt, ref, b, t in zip(val.texts, refs, base, tuned):
            bs, ts = metrics.row_score(b, ref), metrics.row_score(t, ref)
            rows.append({"prompt": prompt, "reference": ref, "base": b, "tuned": t, "base_score": round(bs, 2),
                         "tuned_score": round(ts, 2), "improvement": round(ts - bs, 2)})
        return {"base": metrics.generation(base[:n], refs), "tuned": metrics.generation(tuned[:n], refs),
                "rows": rows}
