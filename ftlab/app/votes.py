"""The blind A/B votes of the Compare tab, and the loop they close: each vote kept with its run, the decided
ones as preference pairs (prompt, chosen, rejected), and a preference run started on them from that run.

A mixin of the Lab facade (ftlab.app.lab), with `owned`: the guard that a run named by a call is the caller's."""

from __future__ import annotations

import functools
import json
import time

from ftlab import methods, tasks
from ftlab.i18n import t
from ftlab.runs.run_dir import RunDir


def owned(method):
    """The run named by the first argument must be the caller's in shared mode: for anyone else it does not exist."""
    @functools.wraps(method)
    def check(self, run_id, *args, **kwargs):
        self.check_owner(run_id)
        return method(self, run_id, *args, **kwargs)
    return check


class Votes:
    @owned
    def vote(self, run_id: str, record: dict) -> None:
        """Keep a blind A/B vote with the run (votes.jsonl): {winner: base|tuned|tie|both bad, prompt, base, tuned}."""
        RunDir(run_id).append_metrics({**record, "time": time.time()}, log="votes")

    @owned
    def preference_pairs_jsonl(self, run_id: str) -> str:
        """The run's decided votes as DPO preference pairs, one JSON object per line: prompt (the conversation
        before the reply, as messages), chosen, rejected."""
        lines = []
        for v in RunDir(run_id).metrics("votes"):
            if v["winner"] in ("base", "tuned"):
                loser = "tuned" if v["winner"] == "base" else "base"
                lines.append(json.dumps({"prompt": v["prompt"], "chosen": v[v["winner"]], "rejected": v[loser]},
                                        ensure_ascii=False))
        return "".join(line + "\n" for line in lines)

    @owned
    def train_on_votes(self, run_id: str, **settings) -> str:
        """Start a preference run on the run's decided blind A/B votes, going on from that run (its adapter or
        weights are the new run's start and reference); returns the new run's id. The votes are kept as the new
        run's data file (`votes-of-<run>-<n>.jsonl` in the caller's uploads); `settings` as for build_config."""
        source = RunDir(run_id).config()
        if tasks.get(source.task).try_out != "chat":
            raise ValueError(t("votes.not_chat", run=run_id))
        pairs = self.preference_pairs_jsonl(run_id)
        n = pairs.count("\n")
        if not n:
            raise ValueError(t("votes.none", run=run_id))
        folder = self.uploads_folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"votes-of-{run_id}-{n}.jsonl"
        path.write_text(pairs, encoding="utf-8")
        settings = {"val_fraction": 0.0 if n < 10 else 0.1, **settings}
        cfg = self.build_config("preference", str(path), source.model, source.method, **settings)
        cfg.start_from, cfg.name = run_id, f"votes of {run_id}"
        for section in methods.get(cfg.method).settings:  # the adapter it goes on from was made with these
            setattr(cfg, section, getattr(source, section))
        return self.start(cfg.to_dict())

    def check_start_from(self, cfg) -> None:
        """A run to go on from must be the caller's to see, have saved weights, and share the new run's base
        model and kind of method (an adapter goes on as an adapter)."""
        if not cfg.start_from:
            return
        earlier = RunDir(cfg.start_from)
        if not earlier.exists() or not self.visible(cfg.start_from):
            raise ValueError(t("start.from_unknown", run=cfg.start_from))
        was = earlier.config()
        adapter = methods.get(cfg.method).adapter
        if was.model_ref() != cfg.model_ref() or methods.get(was.method).adapter != adapter or not (
                earlier.adapter_dir if adapter else earlier.model_dir).is_dir():
            raise ValueError(t("start.from_mismatch", run=cfg.start_from, model=was.model_ref(), method=was.method))

