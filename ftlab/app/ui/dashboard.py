"""The live dashboard of a run: progress with ETA and elapsed time, the latest speed and memory, loss (raw and
smoothed), eval metrics, learning rate and gradient norm curves, and the probe answers step by step."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import pandas as pd

from ftlab import i18n
from ftlab.app import texts
from ftlab.metrics import registry
from ftlab.app.ui.translate import t, tr
from ftlab.runs.run_dir import PHASES

SMOOTHING = 0.8
"""Weight of the past in the smoothed train loss (an exponential moving average, as TensorBoard draws it)."""
STATES = ("queued", "running", "stopping", "completed", "stopped", "cancelled", "failed", "interrupted", "damaged")
EVAL_PLOTTED = registry.keys(from_loss=False, plotted=True)
"""Eval metrics drawn together, each divided by its scale (BLEU and chrF are 0-100) so all share a 0-1 axis."""
SERIES = ("train", "train (smoothed)", "eval")
"""The loss plot's series. Series and metric names on the plots are the same in every language (their titles are
translated): a plot draws with the names of its colour map (see `colored`), and its legend stays short."""
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")


LIVE = ("queued", "running", "stopping")


def phase_name(phase: str, snap: dict | None = None) -> str:
    """A run's phase (a code of ftlab.runs.run_dir.PHASES) in the caller's language; an unknown one as written."""
    snap = snap or {}
    if phase not in PHASES:
        return phase
    return (t(f"phase.{phase}", step=snap.get("phase_step") or 0, run=snap.get("base_reused_from") or "?")
            + (t("phase.first_use") if phase == "loading" and snap.get("first_use") else ""))


def phase_line(snap: dict) -> str:
    """While a run is live: what it is doing, rows done / total where they are counted, and for how long (the
    time ticks with every refresh, so a long phase never looks frozen)."""
    if not snap.get("phase") or snap.get("state") not in ("running", "stopping"):
        return ""
    parts = [phase_name(snap["phase"], snap)]
    if snap.get("phase_total"):
        parts.append(t("phase.rows", done=snap.get("phase_done") or 0, total=snap["phase_total"]))
    if snap.get("phase_started") and snap.get("now"):
        parts.append(t("phase.for", s=f"{max(0, snap['now'] - snap['phase_started']):.0f}"))
    return " · ".join(parts)


def elapsed(snap: dict) -> float | None:
    """Seconds since the run started: counted to now while it is live (the status' own figure is written at
    steps only), else as the run last wrote it."""
    if snap.get("state") in LIVE and snap.get("started") and snap.get("now"):
        return snap["now"] - snap["started"]
    return snap.get("elapsed")


def state_name(state: str) -> str:
    """A run state in the caller's language."""
    return t("state." + state) if state in STATES else state


def _facts(snap: dict) -> list[str]:
    names = ("train_loss", *registry.keys(headline=True))
    facts = [f"{t('dash.' + k)} {snap[k]:.4f}" for k in names if snap.get(k) is not None]
    if snap.get("trainable_params"):
        facts.append(t("dash.trainable", n=f"{snap['trainable_params']:,}", total=f"{snap['total_params']:,}"))
    if snap.get("precision"):
        facts.append(t("dash.precision", precision=snap["precision"], device=snap.get("device", "?")))
    return facts


def _speed(metrics: list[dict]) -> str:
    last = next((m for m in reversed(metrics) if "tokens_per_s" in m), None)
    if not last:
        return ""
    parts = [t("dash.tokens_s", n=f"{last['tokens_per_s']:,.0f}"), t("dash.samples_s", n=f"{last.get('samples_per_s', 0):.2f}"),
             t("dash.padding", n=f"{100 * last.get('padding', 0):.0f}"),
             t("dash.grad_norm", n=f"{last['grad_norm']:.3f}"), t("dash.rss", n=f"{last.get('rss_mb', 0):,.0f}")]
    if "gpu_mb" in last:
        parts.append(t("dash.gpu", n=f"{last['gpu_mb']:,.0f}", peak=f"{last['gpu_peak_mb']:,.0f}"))
    return " · ".join(parts)


def progress_markdown(snap: dict) -> str:
    """A progress bar with step/total, ETA, elapsed, the latest losses, speed and memory, from a run snapshot."""
    if not snap:
        return t("dash.no_run")
    state, step, total = snap.get("state", "?"), snap.get("step", 0), snap.get("total_steps") or 0
    pct = int(100 * step / total) if total else (None if state in ("queued", "running") else 0)
    eta, spent = snap.get("eta"), elapsed(snap)
    if eta and snap.get("now") and snap.get("eta_at"):  # it counts down between the steps that write it
        eta = max(0.0, eta - (snap["now"] - snap["eta_at"]))
    queued = t("dash.queue", n=snap["queue_position"]) if snap.get("queue_position") else ""
    lines = [t("dash.run", run=snap["run_id"], state=state_name(state)) + queued,
             f"<progress value='{pct}' max='100' style='width:100%'></progress>" if pct is not None
             else "<progress style='width:100%'></progress>",
             t("dash.step", step=step, total=total or "?")
             + (" · " + t("dash.eta_without_evals" if snap.get("eta_without_evals") else "dash.eta", s=f"{eta:.0f}")
                if eta and state == "running" else "")
             + (" · " + t("dash.elapsed", s=f"{spent:.0f}") if spent else ""),
             phase_line(snap),
             " · ".join(_facts(snap)), _speed(snap.get("metrics", []))]
    if snap.get("start_from"):
        lines.append("ℹ️ " + t("dash.start_from", run=snap["start_from"], data=snap.get("data_name", "")))
    if snap.get("base_reused_from"):
        lines.append("ℹ️ " + t("dash.base_reused", run=snap["base_reused_from"]))
    for key, mark in (("note", "ℹ️"), ("resumed", "ℹ️"), ("warning", "⚠️")):
        if snap.get(key):
            lines.append(f"{mark} {texts.status_event(snap, key)}")
    if snap.get("error"):
        lines.append("⚠️ " + texts.error(snap))
    return "\n\n".join(line for line in lines if line)


def smoothed(values: list[float], weight: float = SMOOTHING) -> list[float]:
    out, last = [], None
    for v in values:
        last = v if last is None else weight * last + (1 - weight) * v
        out.append(last)
    return out


def loss_frame(metrics: list[dict], run: str = "") -> pd.DataFrame:
    """Rows (step, loss, series): train, train (smoothed) and eval, each prefixed with `run` when given."""
    train = [m for m in metrics if "train_loss" in m]
    prefix = f"{run} " if run else ""
    names = {k: prefix + name for k, name in zip(("train", "smoothed", "eval"), SERIES)}
    rows = [{"step": m["step"], "loss": m["train_loss"], "series": names["train"]} for m in train]
    rows += [{"step": m["step"], "loss": v, "series": names["smoothed"]}
             for m, v in zip(train, smoothed([m["train_loss"] for m in train]))]
    rows += [{"step": m["step"], "loss": m["eval_loss"], "series": names["eval"]} for m in metrics if "eval_loss" in m]
    return pd.DataFrame(rows or None, columns=["step", "loss", "series"])


def eval_frame(metrics: list[dict]) -> pd.DataFrame:
    rows = [{"step": m["step"], "value": m[k] / registry.get(k).scale,
             "metric": i18n.t("metric." + k.removeprefix("eval_"), "en")} for m in metrics for k in EVAL_PLOTTED if k in m]
    return pd.DataFrame(rows or None, columns=["step", "value", "metric"])


def eval_title(cfg: dict) -> str:
    """The eval plot's title for a run's task: what it plots, and on how many rows (chat scores only the first
    `eval.generate_rows`, the Results tab all `eval.report_rows`: the two BLEUs differ for that)."""
    key = f"dash.eval_title_{cfg.get('task')}"
    return t(key, n=cfg.get("eval", {}).get("generate_rows", "?")) if i18n.t_or(key, "") else i18n.texts("dash.eval_plot")["title"]


def series_frame(metrics: list[dict], key: str) -> pd.DataFrame:
    return pd.DataFrame([{"step": m["step"], key: m[key]} for m in metrics if key in m] or None,
                        columns=["step", key])


def probes_frame(samples: list[dict]) -> pd.DataFrame:
    """The probe answers, newest step first: step, prompt, base answer, tuned answer."""
    rows = sorted(samples, key=lambda s: (-s["step"], s["probe"]))
    names = {k: t(f"dash.col_{k}") for k in ("step", "prompt", "base", "tuned")}
    return pd.DataFrame([{names[k]: s[k] for k in names} for s in rows] or None, columns=list(names.values()))


@dataclass
class Dashboard:
    progress: gr.Markdown
    plots: list
    eval_title: gr.Markdown
    eval_note: gr.Markdown
    """Under the plots: why no evaluation line is drawn yet (a line needs two points)."""

    def outputs(self) -> list:
        return [self.progress, *self.plots, self.eval_title, self.eval_note]

    def colored(self) -> list:
        """The plots `colors` updates: loss, then eval."""
        return self.plots[:2]

    @staticmethod
    def values(snap: dict, samples: list[dict] | None, cfg: dict | None = None) -> list:
        """New values for the progress text and, only where there is something new, the plots (`snap` has
        "metrics") and the probe table (`samples` is not None): a redrawn plot costs the browser far more than the
        server, and it would compete with training for the same cores. With the run's config (`cfg`, given when
        the run shown changes), the eval plot is titled for its task: a classifier's names no BLEU."""
        metrics = snap.get("metrics")
        if metrics is None:
            plots, note = [gr.update()] * 4, gr.update()
        else:
            plots = [drawn(loss_frame(metrics)), drawn(eval_frame(metrics)), drawn(series_frame(metrics, "lr")),
                     drawn(series_frame(metrics, "grad_norm"))]
            note = t("dash.one_eval") if sum("eval_loss" in m for m in metrics) == 1 else ""
        return [progress_markdown(snap), *plots, probes_frame(samples) if samples is not None else gr.update(),
                eval_title(cfg) if cfg else gr.update(), note]


def drawn(frame: pd.DataFrame) -> pd.DataFrame | None:
    """A plot's new value; None for no rows, which clears it (an empty frame would leave the last run's lines)."""
    return frame if len(frame) else None


def names(metrics: list[dict]) -> list[list[str]]:
    """The series names the loss plot and the eval plot draw for these metrics (for `colors`)."""
    return [list(dict.fromkeys(loss_frame(metrics)["series"])), list(dict.fromkeys(eval_frame(metrics)["metric"]))]


def colors(*drawn_names: list[str]) -> list[dict]:
    """A colour map per plot for the names it draws, sent after (never with) the new rows. A browser builds a
    plot's legend from the names it first drew and keeps it while only its rows change: another run's names (a
    classifier's accuracy after a chat run's BLEU) would stay unlisted and undrawn. A new colour map rebuilds the
    plot, with the rows it holds at that moment: sent with the rows it would rebuild from the old ones."""
    return [gr.update(color_map={n: PALETTE[i % len(PALETTE)] for i, n in enumerate(ns)}) if ns else gr.update()
            for ns in drawn_names]


def build() -> Dashboard:
    progress = gr.Markdown(progress_markdown({}), elem_id="progress")
    with gr.Row():
        loss = tr("dash.loss_plot", gr.LinePlot, x="step", y="loss", color="series", elem_id="loss-plot")
        with gr.Column():
            title = gr.Markdown("", elem_id="eval-title")  # what the plot shows, for the shown run's task
            evals = tr("dash.eval_plot", gr.LinePlot, x="step", y="value", color="metric", elem_id="eval-plot")
            note = gr.Markdown("", elem_id="eval-note")
    with gr.Row():
        lr = tr("dash.lr_plot", gr.LinePlot, x="step", y="lr", elem_id="lr-plot")
        grad = tr("dash.grad_plot", gr.LinePlot, x="step", y="grad_norm", elem_id="grad-plot")
    probes = tr("dash.probes", gr.Dataframe, wrap=True, interactive=False, elem_id="probes", max_height=360,
                column_widths=["8%", "22%", "35%", "35%"])
    return Dashboard(progress, [loss, evals, lr, grad, probes], title, note)
