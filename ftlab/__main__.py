"""Headless CLI on the same engine as the app.

    python -m ftlab train run.yaml     train from a config (any run's config.yaml re-runs as it is)
    python -m ftlab runs               list runs under $FTLAB_HOME/runs
"""

from __future__ import annotations

import argparse
import sys


def _print_event(record: dict) -> None:
    fields = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
    print(fields, flush=True)


def cmd_train(path: str) -> int:
    from ftlab import train
    from ftlab.config import RunConfig
    from ftlab.runs import RunDir

    cfg = RunConfig.from_yaml(path)
    problems = cfg.validate()
    if problems:
        print("config problems:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        return 2
    run = RunDir.create(cfg)
    print(f"run {run.id} -> {run.path}", flush=True)
    result = train.run(cfg, run, on_event=_print_event)
    print(f"{result.state} at step {result.step}" + (f": {result.error}" if result.error else ""), flush=True)
    return 0 if result.state == "completed" else 1


def cmd_runs() -> int:
    from ftlab.runs import list_runs

    for r in list_runs():
        loss = f"{r['loss']:.4f}" if r["loss"] is not None else "-"
        print(f"{r['run_id']:40} {r['state']:12} {r['task']:9} {r['method']:6} loss {loss:8} {r['model']}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train from a YAML config").add_argument("config")
    sub.add_parser("runs", help="list runs")
    args = parser.parse_args(argv)
    return cmd_train(args.config) if args.command == "train" else cmd_runs()


if __name__ == "__main__":
    sys.exit(main())
