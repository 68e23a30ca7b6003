"""A run's evaluations: the base model's baseline before the first step, each eval step's metrics and probe
answers (samples.jsonl), the overfitting warning, and the final base-vs-tuned report (report.json).

The baseline is saved as base.json, so a resumed run compares against the same base without recomputing it.
"""

from __future__ import annotations

from contextlib import nullcontext

from ftlab import evaluation, report
from ftlab.config import RunConfig
from ftlab.runs import RunDir


class Evaluator:
    def __init__(self, cfg: RunConfig, run: RunDir, s):
        self.cfg, self.run, self.s = cfg, run, s
        self.classify = cfg.task == "classify"
        self.val = s.cases
        self.probes = evaluation.probe_cases(cfg.eval.probes, self.val, cfg.eval.probe_count, cfg.task)
        self.base = run.read_json("base.json")
        self.history: list[tuple[int, float, float]] = []
        """(step, eval loss, train loss) at each evaluation, for the overfitting warning."""

    def _answer(self, cases: evaluation.Cases, limit: int | None, model, context) -> list:
        s = self.s
        with context():
            return evaluation.answer(model, s.tokenizer, self.cfg.task, cases.prompts[:limit],
                                     self.cfg.eval.max_new_tokens, s.device, s.autocast_context)

    def _measure(self, model, context, rows: int | None) -> tuple[dict, list, list]:
        """(metrics, answers to `rows` validation cases, probe answers) of `model` in `context`."""
        s = self.s
        s.model.eval()
        try:
            with context():
                loss, predicted, tokens = evaluation.loss(model, s.val, s.tokenizer.pad_token_id,
                                                          self.cfg.train.batch_size, s.device, s.autocast_context)
            answers = self._answer(self.val, rows, model, context)
            probes = self._answer(self.probes, None, model, context)
        finally:
            s.model.train()
        scored = predicted if self.classify else answers[: self.cfg.eval.generate_rows]
        return (evaluation.scores(self.cfg.task, scored, self.val.references, len(s.labels), loss, tokens),
                answers, probes)

    def report_rows(self) -> int | None:
        return None if self.classify else self.cfg.eval.report_rows

    def baseline(self) -> dict:
        """The base model's metrics (step 0), measured once per run and kept in base.json."""
        if self.base is None:
            model, context = evaluation.base_view(self.s.model, self.cfg.method)
            found, answers, probes = self._measure(model, context, self.report_rows())
            self.base = {"metrics": found, "answers": answers, "probes": probes}
            self.run.write_json("base.json", self.base)
        self._samples(0, self.base["probes"])
        return self.base["metrics"]

    def evaluate(self, step: int) -> dict:
        """The tuned model's metrics now; its probe answers go to samples.jsonl beside the base's."""
        rows = self.cfg.eval.generate_rows if not self.classify else 0
        found, _, probes = self._measure(self.s.model, nullcontext, rows)
        self._samples(step, probes)
        return found

    def _samples(self, step: int, probes: list) -> None:
        base = self.base["probes"] if self.base else probes
        for i, (text, b, t) in enumerate(zip(self.probes.texts, base, probes)):
            self.run.append_metrics({"step": step, "probe": i, "prompt": text, "base": self._shown(b),
                                     "tuned": self._shown(t)}, log="samples")

    def _shown(self, answer) -> str:
        if self.classify:
            label, p = answer
            return f"{self.s.labels[label]} ({p:.2f})"
        return answer

    def overfitting(self, step: int, eval_loss: float | None, train_loss: float | None) -> str:
        if eval_loss is None or train_loss is None:
            return ""
        self.history.append((step, eval_loss, train_loss))
        return evaluation.overfitting(self.history, self.cfg.eval.overfit_patience)

    def final_report(self, step: int) -> dict:
        """Base vs tuned on the validation split, written to report.json (and README.md, the model card)."""
        if not self.val.texts or self.base is None:
            return {}
        found, answers, _ = self._measure(self.s.model, nullcontext, self.report_rows())
        result = report.build(self.cfg, self.s.labels, self.val, self.base, {"metrics": found, "answers": answers},
                              step)
        self.run.write_json("report.json", result)
        return result
