"""Headless CLI on the same engine as the app.

    python -m ftlab train run.yaml     train from a config (any run's config.yaml re-runs as it is)
    python -m ftlab runs               list runs under $FTLAB_HOME/runs
    python -m ftlab export RUN --out DIR|FILE.zip [--merge]
                                       write a run's adapter (or, with --merge, the base with it folded in)
    python -m ftlab export RUN --format gguf [--quant q8_0] --out DIR|FILE.zip
                                       the merged chat model as GGUF for llama.cpp, with an Ollama Modelfile
    python -m ftlab resume RUN         go on from a stopped, interrupted or failed run's last checkpoint
    python -m ftlab tune run.yaml --trials 12 --minutes 30
                                       auto-tune: an Optuna search from the config, its trials runs
    python -m ftlab tune --resume STUDY
                                       go on with a study a killed process left unfinished

Multi-GPU / multi-machine data parallel: accelerate launch -m ftlab train run.yaml (see the README).
"""

from __future__ import annotations

import argparse
import sys


def _print_event(record: dict) -> None:
    fields = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
    print(fields, flush=True)


def cmd_train(path: str, resume_id: str = "") -> int:
    from ftlab.train import engine
    from ftlab.train import parallel
    from ftlab.config import RunConfig
    from ftlab.runs.run_dir import RunDir

    run = RunDir(resume_id) if resume_id else None
    if run is not None and not run.exists():
        print(f"no run {resume_id}", file=sys.stderr)
        return 2
    cfg = run.config() if run is not None else RunConfig.from_yaml(path)
    problems = cfg.validate()
    if problems:
        print("config problems:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
        return 2
    group = parallel.group()  # one process, or one of several under `accelerate launch`
    run = run or RunDir(group.share(RunDir.create(cfg).id if group.main else None))
    say = print if group.main else (lambda *a, **k: None)
    say(f"run {run.id} -> {run.path}" + (f" ({group.world} processes)" if group.distributed else ""), flush=True)
    result = engine.run(cfg, run, on_event=_print_event, resume=bool(resume_id), group=group)
    say(f"{result.state} at step {result.step}" + (f": {result.error}" if result.error else ""), flush=True)
    return 0 if result.state == "completed" else 1


def cmd_runs() -> int:
    from ftlab.runs.run_dir import list_runs

    for r in list_runs():
        loss = f"{r['loss']:.4f}" if r["loss"] is not None else "-"
        print(f"{r['run_id']:40} {r['state']:12} {r['task']:9} {r['method']:6} loss {loss:8} {r['model']}")
    return 0


def cmd_export(run_id: str, out: str, merge: bool, fmt: str = "safetensors", quant: str = "q8_0") -> int:
    from ftlab.runs.export import export, zip_export

    zipped = out.endswith(".zip")
    try:
        if fmt == "gguf":
            from ftlab.deploy.gguf_export import export_gguf, zip_gguf

            written, what = (zip_gguf if zipped else export_gguf)(run_id, out, quant), f"GGUF {quant}"
        else:
            written = zip_export(run_id, out, merge) if zipped else export(run_id, out, merge)
            what = "merged model" if merge else "weights"
    except (ValueError, RuntimeError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{what} of {run_id} -> {written}")
    return 0


def cmd_tune(path: str, trials: int, minutes: float, resume: str = "") -> int:
    from ftlab.config import RunConfig
    from ftlab.runs import study_report, study_space
    from ftlab.runs.jobs import JobManager
    from ftlab.runs.study import Studies, StudyDir
    from ftlab.train import defaults

    jobs = JobManager()
    studies = Studies(jobs, jobs.start)
    if resume:
        if StudyDir(resume).read().get("state") != "running":
            print(f"no unfinished study {resume}", file=sys.stderr)
            return 2
        studies.resume_unfinished()
        study_id = resume
    else:
        cfg = RunConfig.from_yaml(path)
        problems = cfg.validate()
        if problems:
            print("config problems:\n" + "\n".join(f"- {p}" for p in problems), file=sys.stderr)
            return 2
        sp = study_space.space(cfg, defaults.facts(cfg), study_space.fits_full(cfg))
        study_id = studies.start(cfg, sp, trials, minutes, enqueue=study_space.opening(cfg, sp))
    print(f"study {study_id} -> {StudyDir(study_id).path}", flush=True)
    shown = set()
    while studies.wait(study_id, 5).get("state") == "running" or study_id in Studies._threads:
        _print_trials(study_report.snapshot(study_id)["trials"], shown)
    found = study_report.snapshot(study_id)
    _print_trials(found["trials"], shown)
    print(f"{found['state']}: best {found['metric']} {found.get('best_value')} by trial {found.get('best_number')} "
          f"(run {found.get('best_run')}){_importance(found['importance'])}", flush=True)
    return 0 if found.get("best_run") else 1


def _importance(found: dict) -> str:
    """The study's parameter importance in a line ("" before it has one)."""
    if not found:
        return ""
    where = "at the first rung" if found["at"] == "first_rung" else "at the trials' ends"
    return f"; importance {where}: " + ", ".join(f"{name} {share:g}" for name, share in found["of"].items())


def _print_trials(trials: list[dict], shown: set) -> None:
    for trial in trials:
        if trial["state"] != "running" and trial["number"] not in shown:
            shown.add(trial["number"])
            print(f"trial {trial['number']}: {trial['state']} {trial['value'] if trial['value'] is not None else ''} "
                  f"run {trial['run_id']} {trial['settings']} {trial['minutes']} min", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train from a YAML config").add_argument("config")
    sub.add_parser("runs", help="list runs")
    export = sub.add_parser("export", help="write a run's weights to a folder")
    export.add_argument("run")
    export.add_argument("--out", required=True, help="a new folder, or a file name ending in .zip")
    export.add_argument("--merge", action="store_true", help="fold the adapter into the base model")
    export.add_argument("--format", choices=["safetensors", "gguf"], default="safetensors",
                        help="gguf: the merged chat model for llama.cpp and Ollama, with a Modelfile")
    export.add_argument("--quant", choices=["f16", "q8_0", "q4_k_m", "q4_0"], default="q8_0",
                        help="the GGUF type (quantized by llama.cpp)")
    sub.add_parser("resume", help="go on from a run's last checkpoint").add_argument("run")
    tune = sub.add_parser("tune", help="auto-tune: an Optuna search whose trials are runs")
    tune.add_argument("config", nargs="?", default="")
    tune.add_argument("--trials", type=int, default=12, help="at most this many trials")
    tune.add_argument("--minutes", type=float, default=30, help="at most this many minutes of training (0: no limit)")
    tune.add_argument("--resume", default="", help="a study id to go on with")
    args = parser.parse_args(argv)
    if args.command == "tune":
        if not args.config and not args.resume:
            parser.error("tune: give a config file or --resume STUDY")
        return cmd_tune(args.config, args.trials, args.minutes, args.resume)
    if args.command == "train":
        return cmd_train(args.config)
    if args.command == "resume":
        return cmd_train("", args.run)
    if args.command == "export":
        return cmd_export(args.run, args.out, args.merge, args.format, args.quant)
    return cmd_runs()


if __name__ == "__main__":
    sys.exit(main())
