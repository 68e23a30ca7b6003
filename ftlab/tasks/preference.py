"""Preference: a causal LM tuned on which of two replies people preferred (DPO, IPO, ORPO) or on replies marked
desirable or not (KTO), through the chat template, with the loss on the replies' tokens only.

The reference is the model as training starts, seen once: before the first step every reply's log-probability
under it is computed and kept with the example (no second copy of the model; for a LoRA, DoRA or IA3 run the new
adapter changes nothing yet, full and freeze runs have not moved, and prompt learning's reference is its base
without the virtual tokens: `Method.reference_view`). Evaluations measure the preference loss, the implicit
reward's accuracy and margin, the replies' log-probabilities, a KL estimate, and the preference accuracy (the
chosen reply more likely per token than the rejected one), which the report compares base vs tuned pair by pair.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ftlab.tasks import lm_loss, preference_data
from ftlab.tasks import preference_loss as losses
from ftlab.tasks.base import Cases, nobody
from ftlab.tasks.chat import Chat

PAIRED = ("dpo", "ipo", "orpo")


@dataclass(frozen=True)
class Pair:
    """A validation pair as the report scores it: the conversation and its two replies."""
    prompt: tuple
    chosen: str
    rejected: str


def encode_reply(tok, prompt: list[dict], reply: str, max_length: int) -> dict:
    """The conversation and one reply, rendered by the chat template: loss on the reply's tokens (its end-of-turn
    token included) only."""
    from ftlab.data import encode

    example = encode.encode_chat(tok, prompt + [{"role": "assistant", "content": reply}], max_length)
    start = len(encode.prompt_ids(tok, prompt))
    example["labels"] = [encode.IGNORE] * min(start, len(example["labels"])) + example["labels"][start:]
    return example


def _trained(example: dict) -> bool:
    return any(x != lm_loss.IGNORE for x in example["labels"])


class Preference(Chat):
    name = "preference"
    defaults = {"learning_rate": 2e-4, "epochs": 1.0, "batch_size": 4, "max_length": 384}
    key_metric = "eval_preference_accuracy"
    formats = preference_data.FORMATS
    settings = ("preference",)

    # data
    def encode(self, tok, fmt, row, max_length, label_index, train_on_prompt):
        prompt = preference_data.prompt_messages(fmt, row)
        sides = [encode_reply(tok, prompt, text, max_length) for text, _ in preference_data.replies(fmt, row)]
        if not all(map(_trained, sides)):
            return []  # the reply was cut away at max_length: nothing to compare
        if fmt == "kto":
            return [{**sides[0], "wanted": preference_data.desirable(row["label"]),
                     "prompt_len": len(sides[0]["labels"]) - sum(x != lm_loss.IGNORE for x in sides[0]["labels"])}]
        chosen, rejected = sides
        return [{**chosen, "rejected_ids": rejected["input_ids"], "rejected_labels": rejected["labels"]}]

    def collate(self, rows: list[dict], pad_id: int) -> dict:
        """Paired: the chosen replies, then the rejected ones, in one padded batch; KTO: the replies, then each
        with another row's prompt (the KL estimate's mismatched pairs). Reference log-probabilities ride along."""
        import torch

        from ftlab.data import encode

        if "wanted" in rows[0]:
            sides = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows]
            sides += [{"input_ids": r["kl_ids"], "labels": r["kl_labels"]} for r in rows]
            out = encode.collate(sides, pad_id)
            out["wanted"] = torch.tensor([bool(r["wanted"]) for r in rows])
        else:
            sides = [{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows]
            sides += [{"input_ids": r["rejected_ids"], "labels": r["rejected_labels"]} for r in rows]
            out = encode.collate(sides, pad_id)
        if "ref" in rows[0]:
            out["ref"] = torch.tensor([x for r in rows for x in r["ref"]], dtype=torch.float32).view(len(rows), -1).T
        return out

    def prepare_phase(self, cfg) -> str:
        return "" if cfg.preference.loss == "orpo" else "reference"  # ORPO has no reference to score

    def prepare(self, model, examples: list[list], cfg, device: str, autocast, pad_id: int, reference,
                progress=nobody) -> list[list]:
        """Each split's examples with what the loss needs beside them: KTO's mismatched reply (another row's,
        drawn with the run's seed), and the reference's log-probabilities of every reply (none for ORPO)."""
        import torch

        loss = cfg.preference.loss
        out = []
        for split in examples:
            if split and loss in PAIRED and "wanted" in split[0]:
                raise ValueError(f"preference.loss {loss} needs pairs (prompt, chosen, rejected); these rows are "
                                 "unpaired (prompt, completion, label): choose kto")
            split = [dict(e) for e in split]  # the token cache's examples stay as they were
            if split and loss == "kto":
                split = unpaired(split if "wanted" in split[0] else [r for e in split for r in halves(e)],
                                 cfg.train.seed)
            out.append(split)
        if loss == "orpo":
            return out
        ref_model, context = reference
        with torch.no_grad(), context(), autocast():
            for split in out:
                for i in range(0, len(split), cfg.train.batch_size):
                    rows = split[i : i + cfg.train.batch_size]
                    batch = {k: v.to(device) for k, v in self.collate(rows, pad_id).items()}
                    logps, _ = losses.sequence_logps(ref_model, batch)
                    for j, row in enumerate(rows):
                        row["ref"] = [float(logps[j]), float(logps[j + len(rows)])]
                    progress(len(rows))
        return out

    # training
    def loss(self, model, batch, forward=None, cfg=None):
        return self.loss_stats(model, batch, forward, cfg)[0]

    def loss_stats(self, model, batch, forward=None, cfg=None):
        """(the batch's preference loss, its stats: reward accuracy and margin, log-probabilities, KL)."""
        p = cfg.preference
        logps, counts = halves_logps(model, batch, forward, second_grad=p.loss != "kto")
        n = len(logps) // 2
        first, second, ref = logps[:n], logps[n:], batch.get("ref")
        if p.loss == "kto":  # its second half (the mismatched replies) only estimates the KL: no gradient
            return losses.kto(first, ref[0], batch["wanted"], second.detach(), ref[1], p.beta, p.desirable_weight,
                              p.undesirable_weight)
        if p.loss == "orpo":
            loss, stats = losses.orpo(first, second, counts[:n], counts[n:], p.beta)
        elif p.loss == "ipo":
            loss, stats = losses.ipo(first, second, ref[0], ref[1], counts[:n], counts[n:], p.beta)
        else:
            loss, stats = losses.dpo(first, second, ref[0], ref[1], p.beta)
        per_token = logps.detach() / counts.clamp(min=1)
        stats["preference_accuracy"] = float((per_token[:n] > per_token[n:]).float().mean())
        return loss, stats

    def units(self, batch):
        return len(batch["input_ids"]) // 2

    def positions(self, batch):
        """Each half at its own width, as halves_logps computes it."""
        mask, n = batch["attention_mask"], len(batch["attention_mask"]) // 2
        return sum(len(mask[h]) * int(mask[h].sum(1).max()) for h in (slice(0, n), slice(n, None)) if len(mask[h]))

    def rows_held(self, cfg):
        return 1 if cfg.preference.loss == "kto" else 2  # both replies of a pair in the graph; KTO's KL half not

    # evaluation
    def cases(self, fmt, rows, labels):
        out = Cases()
        for row in rows:
            prompt = preference_data.prompt_messages(fmt, row)
            replies = preference_data.replies(fmt, row)
            users = [m["content"] for m in prompt if m["role"] == "user"]
            out.texts.append(users[-1] if users else "")
            chosen = next((text for text, wanted in replies if wanted), "")
            rejected = next((text for text, wanted in replies if not wanted), "")
            out.references.append((chosen, rejected))
            out.prompts.append(Pair(tuple(map(tuple, (m.items() for m in prompt))), chosen, rejected)
                               if chosen and rejected else None)
        return out

    def probe_from_case(self, prompt):
        return [dict(m) for m in prompt.prompt] if isinstance(prompt, Pair) else prompt

    def eval_loss(self, model, examples, pad_id, batch_size, device, autocast, progress=nobody, cfg=None):
        """(mean preference loss per reply pair, each batch's stats weighted by its pairs, pairs)."""
        import torch

        total, weight, stats = 0.0, 0, []
        with torch.no_grad(), autocast():
            for i in range(0, len(examples), batch_size):
                rows = examples[i : i + batch_size]
                batch = {k: v.to(device) for k, v in self.collate(rows, pad_id).items()}
                loss, found = self.loss_stats(model, batch, None, cfg)
                total, weight = total + float(loss) * len(rows), weight + len(rows)
                stats.append((len(rows), found))
                progress(len(rows))
        return total / max(weight, 1), stats, weight

    def answered(self, cfg, final):
        return cfg.eval.report_rows if final else 0

    def answer(self, model, tok, prompts, cfg, device, autocast, progress=nobody, batch_size: int = 8):
        """Probes (conversations): greedy replies. Validation pairs: each reply's mean log-probability per token
        (chosen, rejected), what the report compares; None for a KTO case without a pair."""
        if all(isinstance(p, list) for p in prompts):  # probes: conversations
            return super().answer(model, tok, prompts, cfg, device, autocast, progress, batch_size)
        pairs = [p for p in prompts if p]
        scored = iter(self.pair_scores(model, tok, pairs, cfg, device, autocast, progress, batch_size))
        return [next(scored) if p else None for p in prompts]

    def pair_scores(self, model, tok, pairs: list[Pair], cfg, device, autocast, progress=nobody,
                    batch_size: int = 8) -> list[list[float]]:
        """[chosen, rejected] mean log-probability per reply token of each pair, `batch_size` pairs a pass."""
        import torch

        from ftlab.data import encode

        out = []
        for i in range(0, len(pairs), batch_size):
            chunk = pairs[i : i + batch_size]
            sides = [encode_reply(tok, [dict(m) for m in pair.prompt], getattr(pair, side), cfg.train.max_length)
                     for side in ("chosen", "rejected") for pair in chunk]
            batch = {k: v.to(device) for k, v in encode.collate(sides, tok.pad_token_id).items()}
            with torch.no_grad(), autocast():
                logps, counts = losses.sequence_logps(model, batch)
            means = [round(float(lp / max(int(c), 1)), 5) for lp, c in zip(logps, counts)]
            out += [[means[j], means[j + len(chunk)]] for j in range(len(chunk))]
            progress(len(chunk))
        return out

    def scores(self, predictions, answers, references, labels, loss, weight, cfg):
        result = {"eval_loss": loss}
        seen = sum(n for n, _ in predictions)
        for key in ("reward_accuracy", "reward_margin", "logps_chosen", "logps_rejected", "kl"):
            values = [(n, s[key]) for n, s in predictions if key in s and s[key] == s[key]]
            if values:
                result[f"eval_{key}"] = sum(n * v for n, v in values) / sum(n for n, _ in values)
        if seen and cfg.preference.loss != "kto":
            result["eval_preference_accuracy"] = self._accuracy(predictions)
        return result

    @staticmethod
    def _accuracy(predictions) -> float:
        """Share of pairs whose chosen reply the model finds more likely per token (from the stats' counts)."""
        found = [(n, s["preference_accuracy"]) for n, s in predictions if "preference_accuracy" in s]
        return sum(n * v for n, v in found) / max(sum(n for n, _ in found), 1)

    def compare(self, labels, val, base, tuned):
        rows, right = [], {"base": 0, "tuned": 0}
        for text, (chosen, rejected), b, t in zip(val.texts, val.references, base, tuned):
            if not b or not t:
                continue
            prefers = {"base": b[0] > b[1], "tuned": t[0] > t[1]}
            right = {k: right[k] + prefers[k] for k in right}
            change = "fixed" if prefers["tuned"] and not prefers["base"] else (
                "broken" if prefers["base"] and not prefers["tuned"] else "unchanged")
            rows.append({"prompt": text, "chosen": chosen, "rejected": rejected,
                         "base_margin": round(b[0] - b[1], 4), "tuned_margin": round(t[0] - t[1], 4),
                         "improvement": round((t[0] - t[1]) - (b[0] - b[1]), 4), "change": change})
        n = max(len(rows), 1)
        margins = {k: sum(r[f"{k}_margin"] for r in rows) / n for k in ("base", "tuned")}
        return {"base": {"preference_accuracy": right["base"] / n, "margin": margins["base"]},
                "tuned": {"preference_accuracy": right["tuned"] / n, "margin": margins["tuned"]}, "rows": rows,
                "counts": {"fixed": sum(r["change"] == "fixed" for r in rows),
                           "broken": sum(r["change"] == "broken" for r in rows)}}


def halves(pair: dict) -> list[dict]:
    """A pair as KTO reads it: its chosen reply desirable, its rejected one not (TRL unpairs pairs the same way)."""
    sides = [(pair["input_ids"], pair["labels"], True), (pair["rejected_ids"], pair["rejected_labels"], False)]
    return [{"input_ids": ids, "labels": labels, "wanted": wanted,
             "prompt_len": next(i for i, x in enumerate(labels) if x != lm_loss.IGNORE)} for ids, labels, wanted in sides]


def halves_logps(model, batch: dict, forward=None, second_grad: bool = True):
    """sequence_logps of a batch's two halves (chosen and rejected rows; KTO's replies and mismatched ones), each
    cut to its own longest row: a short chosen reply is not padded to its long rejected one (the pairs of the
    bundled sample: a third of the positions). Without `second_grad` the second half runs without a graph (KTO's
    KL estimate: no activations kept for it). A data-parallel `forward` sees one forward pass, the whole batch."""
    import torch

    if forward is not None and forward is not model:
        return losses.sequence_logps(model, batch, forward)
    n, found = len(batch["input_ids"]) // 2, []
    for rows, grad in ((slice(0, n), True), (slice(n, None), second_grad)):
        width = int(batch["attention_mask"][rows].sum(1).max())
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            found.append(losses.sequence_logps(model, {k: batch[k][rows, :width] for k in
                                                       ("input_ids", "attention_mask", "labels")}))
    return torch.cat([found[0][0], found[1][0]]), torch.cat([found[0][1], found[1][1]])


def unpaired(examples: list[dict], seed: int) -> list[dict]:
    """KTO's examples, each with a mismatched reply for the KL estimate: its own prompt with the reply of the row
    before it in a seeded order (TRL rotates the replies of a batch the same way)."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    for here, before in zip(order, order[-1:] + order[:-1]):
        mine, theirs = examples[here], examples[before]
        reply = [(i, l) for i, l in zip(theirs["input_ids"], theirs["labels"]) if l != lm_loss.IGNORE]
        head = mine["input_ids"][: mine["prompt_len"]]
        mine["kl_ids"] = head + [i for i, _ in reply]
        mine["kl_labels"] = [lm_loss.IGNORE] * len(head) + [i for i, _ in reply]
    return examples
