"""The engine's facts and codes in the person's language: a dataset's summary and why its format is what it is,
its cleaning and split, the estimate before Start, the precision a run trains in, a model not fetched yet, a
data problem, and a failed run's error. The engine writes English for logs, the CLI and the API, and the codes
and fields these read; it never imports the translation (ftlab.i18n)."""

from __future__ import annotations

from collections import Counter

from ftlab import i18n
from ftlab.i18n import t


def reason(ds) -> str:
    """Why a dataset's format is what it is: the format's own reason, whether the person chose it, how columns
    were mapped, the file's layout and the columns left unused."""
    if not i18n.t_or(f"format.{ds.format}.reason", ""):
        return ds.reason  # a format a task brought, with no texts of its own
    text = t(f"format.{ds.format}.reason")
    if ds.chosen:
        text += t("format.chosen") + (f" ({t('format.detected')} {ds.detected})" if ds.detected else "")
    if ds.mapped:
        text += "; " + t(f"format.mapped.{ds.mapped}")
    if ds.mapping:
        text += "; " + ", ".join(f"`{c}` → {f}" for f, c in ds.mapping.items())
    if ds.layout:
        text += f"; {ds.layout}"
    if ds.unused:
        text += t("format.unused") + " " + ", ".join(f"`{c}`" for c in ds.unused)
    return text


def cleaning(report) -> str:
    text = t("data.cleaning", stripped=report.stripped, empty=report.empty_dropped,
             duplicates=report.duplicates_dropped)
    if report.conflicts:
        text += " " + t("data.cleaning.conflicts", n=len(report.conflicts))
    return text


def dataset_summary(ds) -> str:
    """A short markdown description of a loaded dataset."""
    text = t("data.summary.head", file=ds.path.name, rows=len(ds.rows), format=ds.format, reason=reason(ds),
             task=i18n.t_or(f"task.{ds.task}", ds.task))
    if ds.labels:
        counts = Counter(r["label"] for r in ds.rows)
        text += " " + t("data.summary.labels", labels=", ".join(f"{k} ({counts[k]})" for k in ds.labels))
    text += " " + cleaning(ds.cleaning)
    if ds.cleaning.conflicts:
        text += "\n\n" + t("data.summary.conflicts") + "\n" + "\n".join(f"- {problem(c)}" for c in ds.cleaning.conflicts[:10])
    return text


def validation_source(splits: dict) -> str:
    """Where the validation rows come from (insight's "splits"): a file, or how many were held out."""
    held = splits.get("held_out")
    if not held:
        return splits["validation_from"]
    return (t("data.held_out", n=held["n"], total=held["total"], fraction=held["fraction"])
            + (t("data.stratified") if held["stratified"] else ""))


def precision(why: dict) -> str:
    """The precision a run trains in and why (ftlab.train.precision.explain)."""
    return t(f"precision.{why['why']}", chosen=why["chosen"])


def estimate(result: dict) -> str:
    """The estimate before Start (ftlab.train.plan.estimate) in a line."""
    parts = ", ".join(f"{t('plan.' + k)} {v:.2f}" for k, v in result["parts"].items())
    return (t("plan.describe", trainable=f"{result['trainable']:,}", total=f"{result['total']:,}",
              percent=f"{result['percent']:.3g}", memory=f"{result['memory_gb']:.1f}", parts=parts)
            + (f"\n\n{precision(result['precision'])}" if result.get("precision") else ""))


def not_fetched(exc) -> str:
    return t("model.not_here_bundled" if exc.bundled else "model.not_here", ref=exc.ref)


def where(parts: dict) -> str:
    """A problem's place: file, line or row, column, field."""
    text = parts.get("file", "")
    if parts.get("unit"):
        text += t(f"where.{parts['unit']}", n=parts.get("place"))
    if parts.get("column"):
        text += t("where.column", n=parts["column"])
    if parts.get("field"):
        text += t("where.field", field=parts["field"])
    return text


def problem(item) -> str:
    """A data problem in the person's language when it has a code with a text (else as the engine wrote it)."""
    code, fields = getattr(item, "code", None), getattr(item, "fields", None)
    if isinstance(item, dict):
        code, fields = item.get("code"), item.get("fields")
    if not code or not i18n.t_or(f"problem.{code}", ""):
        return str(item.get("text", "") if isinstance(item, dict) else item)
    return t(f"problem.{code}", where=where(fields), **{k: v for k, v in fields.items() if k != "where"})


def setting_problem(item) -> str:
    """A config problem (ftlab.checks) in the person's language when it has a code with a text."""
    code, fields = getattr(item, "code", None), dict(getattr(item, "fields", None) or {})
    if not code or not i18n.t_or(f"config.{code}", ""):
        return str(item)
    if "kind" in fields:
        fields["kind"] = t(f"config.kind.{fields['kind']}")
    if "task" in fields:
        fields["task"] = i18n.t_or(f"task.{fields['task']}", fields["task"])
    return t(f"config.{code}", **fields)


def status_event(snap: dict, key: str) -> str:
    """A run's note, resume or warning (ftlab.events) in the person's language, from its code and fields when it
    has them (else as the engine wrote it)."""
    coded = snap.get(f"{key}_event") or {}
    if coded.get("code") and i18n.t_or(f"{key}.{coded['code']}", ""):
        return t(f"{key}.{coded['code']}", **coded.get("fields", {}))
    return str(snap.get(key) or "")


def error(snap: dict) -> str:
    """A failed run's error: from its code and fields when it has them (else as written)."""
    code, fields = snap.get("error_code"), snap.get("error_fields") or {}
    if code == "data":
        return t("error.data") + "\n" + "\n".join(f"- {problem(p)}" for p in fields.get("problems", []))
    if code and i18n.t_or(f"error.{code}", ""):
        return t(f"error.{code}", **fields)
    return snap.get("error", "")


CHOICE_SHOWN = ("learning_rate", "epochs", "early_stopping_patience", "batch_size", "lora.r", "max_length")
"""The suggested settings the Model tab explains, a line each (alpha, the watched metric and the evaluation period
go with the rank and early stopping lines)."""


def defaults_why(found: dict, yours: list[str], data: str = "", model: str = "") -> str:
    """The settings chosen for this data, model and method (Lab.suggest), a reason each, under a title naming the
    data and model; a setting the person typed stays theirs, and its line says what would have been chosen."""
    lines = []
    for item in found["why"]:
        if item["key"] not in CHOICE_SHOWN:
            continue
        reason = i18n.t_or(f"defaults.{item['code']}", "")
        reason = reason.format(**item["fields"]) if reason else item["text"]
        if item["key"] in yours:
            reason = t("defaults.yours", value=found["settings"][item["key"]], reason=reason)
        lines.append(f"- {reason}")
    return t("defaults.title", data=data, model=model) + "\n" + "\n".join(lines)
