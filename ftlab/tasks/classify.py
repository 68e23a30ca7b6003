"""Classify: a sequence classifier (a new head sized to the data's labels) trained on texts or sentence pairs,
evaluated by accuracy, F1, precision, recall and a confusion matrix, and compared base vs tuned row by row (each
prediction fixed, broken or unchanged). Texts are cut at the run's max_length in training, evaluation and
serving alike (ftlab.data.encode.classification_inputs)."""

from __future__ import annotations

from ftlab import metrics
from ftlab.tasks.base import Cases, Task, nobody


class Classify(Task):
    name = "classify"
    default_model = "sentence-transformers/all-MiniLM-L6-v2"
    defaults = {"learning_rate": 5e-4, "epochs": 4.0, "batch_size": 16, "max_length": 128}
    model_kind = "sequence_classification"
    peft_type = "SEQ_CLS"
    labelled = True
    key_metric = "eval_accuracy"
    try_out = "classify"
    answers_in_loss = True
    settings = ("classify",)

    def encode(self, tok, fmt, row, max_length, label_index, train_on_prompt):
        from ftlab.data import encode

        return encode.encode_row(tok, fmt, row, max_length, label_index, train_on_prompt)

    def cases(self, fmt, rows, labels):
        out = Cases()
        index = {name: i for i, name in enumerate(labels)}
        for row in rows:
            pair = row.get("text_pair")
            out.texts.append(row["text"] + (f" / {pair}" if pair else ""))
            out.references.append(index[row["label"]])
            out.prompts.append((row["text"], pair))
        return out

    def probe_prompts(self, probes):
        return [(p, None) for p in probes]

    def prepare_phase(self, cfg) -> str:
        return "head_probe" if self._probed(cfg) else ""

    def prepare(self, model, examples: list[list], cfg, device: str, autocast, pad_id: int, reference,
                progress=nobody) -> list[list]:
        """The new head started as a linear probe on the training rows (ftlab.tasks.head_probe) when the settings say
        `classify.head_init: probe` and the run does not go on from another (whose head is trained already)."""
        if self._probed(cfg):
            from ftlab.tasks import head_probe

            head_probe.start(model, examples[0], cfg, device, autocast, pad_id, reference, progress)
        return examples

    def keep(self, cfg, s, run_path) -> None:
        """A probed run's fit, so that its base is served with the head its evaluation of the base had."""
        if self._probed(cfg):
            from ftlab.tasks import head_probe

            head_probe.keep(cfg, s.train, s.device, s.autocast_context, run_path)

    @staticmethod
    def _probed(cfg) -> bool:
        return cfg.classify.head_init == "probe" and not cfg.start_from

    def eval_loss(self, model, examples, pad_id, batch_size, device, autocast, progress=nobody, cfg=None):
        """Rows in length order (less padding; the mean is the same), twice the training batch at a time (a forward
        pass keeps no activations for a backward one; on the sentiment set 0.98 s instead of 1.3 s for 500 rows):
        (mean loss per row, each row's answer (label id, probability) in the rows' own order, rows)."""
        import torch

        from ftlab.data import encode

        batch_size *= 2
        order = sorted(range(len(examples)), key=lambda i: len(examples[i]["input_ids"]))
        total, answers = 0.0, [None] * len(examples)
        with torch.no_grad(), autocast():
            for i in range(0, len(order), batch_size):
                at = order[i : i + batch_size]
                batch = {k: v.to(device) for k, v in encode.collate([examples[j] for j in at], pad_id).items()}
                progress(len(at))
                out = model(**batch)
                total += float(out.loss) * len(at)
                best = torch.softmax(out.logits.float(), -1).max(-1)
                for j, label, p in zip(at, best.indices.tolist(), best.values.tolist()):
                    answers[j] = (label, p)
        return total / max(len(examples), 1), answers, len(examples)

    def answered(self, cfg, final):
        return None if final else 0  # the report shows every row: the loss pass answers them all

    def answer(self, model, tok, prompts, cfg, device, autocast, progress=nobody, batch_size: int = 16):
        """(label id, probability) of each (text, text_pair), read as training read it."""
        import torch

        from ftlab.data import encode

        out = []
        with torch.no_grad(), autocast():
            for i in range(0, len(prompts), batch_size):
                firsts = [p[0] for p in prompts[i : i + batch_size]]
                seconds = [p[1] for p in prompts[i : i + batch_size]]
                enc = encode.classification_inputs(tok, firsts, seconds if any(s is not None for s in seconds)
                                                   else None, cfg.train.max_length, padding=True,
                                                   return_tensors="pt").to(device)
                probs = torch.softmax(model(**enc).logits.float(), -1)
                best = probs.max(-1)
                out += list(zip(best.indices.tolist(), best.values.tolist()))
                progress(len(firsts))
        return out

    def scores(self, predictions, answers, references, labels, loss, weight, cfg):
        got = metrics.classification([p[0] for p in predictions], references[: len(predictions)], len(labels))
        return {"eval_loss": loss, **{f"eval_{k}": v for k, v in got.items() if k != "confusion_matrix"}}

    def shown(self, answer, labels):
        label, p = answer
        return f"{labels[label]} ({p:.2f})"

    def compare(self, labels, val, base, tuned):
        refs = val.references[: len(tuned)]
        b = metrics.classification([a[0] for a in base], refs, len(labels))
        t = metrics.classification([a[0] for a in tuned], refs, len(labels))
        rows = [{"text": text, "label": labels[ref], "base": labels[bp[0]], "base_p": round(bp[1], 4),
                 "tuned": labels[tp[0]], "tuned_p": round(tp[1], 4), "change": change(ref, bp[0], tp[0])}
                for text, ref, bp, tp in zip(val.texts, refs, base, tuned)]
        matrices = {"base": b.pop("confusion_matrix"), "tuned": t.pop("confusion_matrix")}
        return {"base": b, "tuned": t, "rows": rows, "confusion_matrix": matrices,
                "changes": {c: sum(r["change"] == c for r in rows) for c in ("fixed", "broken", "unchanged")}}


def change(label: int, base: int, tuned: int) -> str:
    if base == tuned or (base != label and tuned != label):
        return "unchanged"
    return "fixed" if tuned == label else "broken"
