"""A run's evaluations: the base model's baseline before the first step, each eval step's metrics and probe
answers (samples.jsonl), the overfitting warning, and the final base-vs-tuned report (report.json).

The baseline is saved as base.json, so a resumed run compares against the same base without recomputing it; and
in `$FTLAB_HOME/base_evals/` under a fingerprint of everything it depends on (the base model's weights, the
validation rows as tokenized, the evaluation settings, precision and device), so the next run on the same base and
data starts training within seconds. Each evaluation writes its phase and rows done / total to the run's status.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager, nullcontext

from ftlab import methods, modeling, paths, tasks
from ftlab.tasks import head_probe
from ftlab.eval import report, scoring
from ftlab.train import precision
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir, read_json, write_json_atomic



class Evaluator:
    def __init__(self, cfg: RunConfig, run: RunDir, s):
        self.cfg, self.run, self.s, self.task = cfg, run, s, tasks.get(cfg.task)
        self.val = s.cases
        self.probes = probe_cases(self.task, cfg.eval.probes, self.val, cfg.eval.probe_count)
        self.base = run.read_json("base.json")
        self.history: list[tuple[int, float, float]] = []
        """(step, eval loss, train loss) at each evaluation, for the overfitting warning."""
        self.measured: dict[int, dict] = {}
        """Step -> the metrics of the tuned model's evaluation there (early stopping goes back to its best one's)."""
        self.last: tuple[int, dict] | None = None
        """(step, metrics) of the latest evaluation: the final report takes its metrics instead of measuring the
        same weights again (every task's metrics come from the loss pass and the first `generate_rows` answers,
        which greedy decoding repeats)."""
        self.weights_of: int | None = None
        """The step whose weights the run went back to (early stopping's best), when it did."""
        self.answers: dict[int, list] = {}
        """Step -> every validation case's answer as the loss pass there gave them (`Task.answers_in_loss`)."""

    def _answer(self, cases: tasks.Cases, limit: int | None, model, context, tick) -> list:
        s, prompts = self.s, cases.prompts[:limit]
        if not prompts:
            return []
        with context():
            return self.task.answer(model, s.tokenizer, prompts, self.cfg, s.device, s.autocast_context, tick)

    def progress(self, phase: str, total: int, step: int | None = None):
        """A callback counting rows done into the run's status (at most once a second, and at the end): the UI
        shows the phase (a code: base_eval, eval at `step`, report), its rows done / total and its ticking time."""
        started = time.time()
        self.run.write_status(phase=phase, phase_step=step, phase_started=started, phase_done=0, phase_total=total)
        seen = {"done": 0, "written": 0.0}  # the first batch is written at once

        def tick(n: int) -> None:
            seen["done"] += n
            now = time.time()
            if now - seen["written"] >= 1 or seen["done"] >= total:
                seen["written"] = now
                self.run.write_status(phase_done=seen["done"])
        return tick

    def _measure(self, model, context, rows: int | None, phase: str, step: int | None = None) -> tuple[dict, list, list]:
        """(metrics, answers to `rows` validation cases, probe answers) of `model` in `context`; the run's status
        says `phase` and counts the rows done. A task whose loss pass answers every case (a classifier) is asked
        once; those answers are kept for the report (`answers`)."""
        s, in_loss = self.s, self.task.answers_in_loss
        total = len(s.val) + (0 if in_loss else len(self.val.prompts[:rows])) + len(self.probes.prompts)
        tick = self.progress(phase, total, step)
        with self._evaluating():
            with context():
                loss, predicted, weight = self.task.eval_loss(model, s.val, s.tokenizer.pad_token_id,
                                                              self.cfg.train.batch_size, s.device,
                                                              s.autocast_context, tick, cfg=self.cfg)
            answers = predicted[:rows] if in_loss else self._answer(self.val, rows, model, context, tick)
            probes = self._answer(self.probes, None, model, context, tick)
        if in_loss and step:
            self.answers[step] = predicted
        found = self.task.scores(predicted, answers, self.val.references, s.labels, loss, weight, self.cfg)
        return found, answers, probes

    def report_rows(self) -> int | None:
        return self.task.answered(self.cfg, final=True)

    def baseline(self) -> dict:
        """The base model's metrics (step 0), measured once per run and kept in base.json; taken from an earlier
        run's identical measurement when there is one (see `fingerprint`)."""
        if self.base is None:
            cached = paths.home() / "base_evals" / f"{self.fingerprint()}.json"
            self.base = read_json(cached)
            if self.base is not None:
                self.run.write_status(phase="base_reused", phase_started=time.time(), phase_done=None,
                                      phase_total=None, phase_step=0, base_reused_from=self.base.get("run"))
            else:
                method = methods.get(self.cfg.method)  # a run going on from another compares with where it started
                view = method.reference_view if self.cfg.start_from else method.base_view
                model, context = view(self.s.model)
                found, answers, probes = self._measure(model, context, self.report_rows(), "base_eval", 0)
                self.base = {"metrics": found, "answers": answers, "probes": probes, "run": self.run.id}
                cached.parent.mkdir(exist_ok=True)
                write_json_atomic(cached, self.base)
            self.run.write_json("base.json", self.base)
        self._samples(0, self.base["probes"])
        return self.base["metrics"]

    def evaluate(self, step: int, keep: int | None = None) -> dict:
        """The tuned model's metrics now; its probe answers go to samples.jsonl beside the base's. Of the answers
        kept from earlier evaluations only `keep`'s stay (early stopping's best: the run may go back to it)."""
        self.answers = {at: kept for at, kept in self.answers.items() if at == keep}
        rows = self.task.answered(self.cfg, final=False)
        found, _, probes = self._measure(self.s.model, nullcontext, rows, "eval", step)
        self._samples(step, probes)
        self.last, self.measured[step] = (step, found), found
        return found

    def _samples(self, step: int, probes: list) -> None:
        base = self.base["probes"] if self.base else probes
        for i, (text, b, t) in enumerate(zip(self.probes.texts, base, probes)):
            self.run.append_metrics({"step": step, "probe": i, "prompt": text, "base": self._shown(b),
                                     "tuned": self._shown(t)}, log="samples")

    def _shown(self, answer) -> str:
        return self.task.shown(answer, self.s.labels)

    def overfitting(self, step: int, eval_loss: float | None, train_loss: float | None) -> str:
        if eval_loss is None or train_loss is None:
            return ""
        self.history.append((step, eval_loss, train_loss))
        return scoring.overfitting(self.history, self.cfg.eval.overfit_patience)

    def final_report(self, step: int) -> dict:
        """Base vs tuned on the validation split, written to report.json (and README.md, the model card)."""
        if not self.val.texts or self.base is None:
            return {}
        if self.last and self.last[0] == step:  # the weights the last evaluation measured: only the answers are new
            known = self.answers.get(step)
            found, answers = self.last[1], known[:self.report_rows()] if known else self._report_answers()
        else:
            found, answers, _ = self._measure(self.s.model, nullcontext, self.report_rows(), "report")
        result = report.build(self.cfg, self.s.labels, self.val, self.base, {"metrics": found, "answers": answers},
                              step, self.weights_of)
        self.run.write_json("report.json", result)
        return result

    def went_back(self, step: int, best: int, measured: dict) -> None:
        """The weights at `step` are those the evaluation at `best` measured (`measured`) again: the report takes
        that evaluation (early stopping's best weights)."""
        self.last, self.weights_of = (step, measured), best
        if best in self.answers:
            self.answers[step] = self.answers[best]

    def _report_answers(self) -> list:
        """The tuned model's answers to the report's validation cases (dropout off, as in any evaluation)."""
        rows = self.report_rows()
        tick = self.progress("report", len(self.val.prompts[:rows]))
        with self._evaluating():
            return self._answer(self.val, rows, self.s.model, nullcontext, tick)

    @contextmanager
    def _evaluating(self):
        """The model in eval mode (dropout off) for a measurement, in training mode again after it."""
        self.s.model.eval()
        try:
            yield
        finally:
            self.s.model.train()

    def fingerprint(self) -> str:
        """What the base model's evaluation depends on, hashed: its weights (names, sizes, times), the task's
        labels, head seed, the head it starts from (a linear probe's fit) and own settings (a preference loss and its
        beta), the run started from, quantization, precision and device, the evaluation settings, and the validation
        rows and probes as tokenized (so the data, its split and max_length are in it)."""
        cfg, s = self.cfg, self.s
        facts = {"model": cfg.model_ref(), "weights": modeling.weight_files(cfg.model_ref()), "task": cfg.task,
                 "labels": s.labels, "head": head_probe.digest(s.model, len(s.labels)),
                 "seed": cfg.train.seed if self.task.labelled else None,
                 "quant": methods.get(cfg.method).load_facts(cfg), "start_from": cfg.start_from,
                 "task_settings": {name: vars(getattr(cfg, name)) for name in self.task.settings},
                 "precision": precision.describe(s.autocast), "device": s.device, "eval": vars(cfg.eval),
                 "batch_size": cfg.train.batch_size, "val": [_plain(e) for e in s.val],
                 "prompts": self.val.prompts, "references": self.val.references, "probes": self.probes.prompts}
        return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def probe_cases(task: tasks.Task, probes: list[str], val: tasks.Cases, count: int) -> tasks.Cases:
    """The person's probe prompts, or the first `count` validation cases."""
    if not probes:
        return tasks.Cases(val.texts[:count], val.references[:count],
                           [task.probe_from_case(p) for p in val.prompts[:count]])
    return tasks.Cases(list(probes), [None] * len(probes), task.probe_prompts(probes))


def _plain(example: dict) -> dict:
    """A tokenized example as JSON can hold it (tensors as lists)."""
    return {k: v.tolist() if hasattr(v, "tolist") else v for k, v in example.items()}
