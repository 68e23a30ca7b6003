"""Data tab: pick a bundled sample or upload a file; see the detected format (with the reason), override it, map
the file's columns onto the format's fields, add a validation file, and see the validation result and first rows.

What the user settles here (format, column mapping, validation file) travels to the run's config as `options`.
Its texts are the locale keys `data.*` and `sample.*` (ftlab/locales/data.yaml); the dataset summary itself comes
from the engine (file, line and column details, in English) inside translated words.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab import i18n
from ftlab.data.formats import FIELDS, FORMATS
from ftlab.app.lab import Lab
from ftlab.app.ui import insight_panel
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.translate import redraw, t, tr

FILE_TYPES = [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt", ".gz"]


@dataclass
class DataTab:
    path: gr.State
    task: gr.State
    options: gr.State
    """{"format", "columns", "val_path"}: the data settings of the run to start."""
    summary: gr.Markdown
    source: gr.State
    """The file or sample chosen, usable or not (`path` is set only when it is usable)."""
    doubt: gr.State
    """An unused column that looks like labels ("" when none): Next waits until `plain_ok` is ticked or it is mapped."""
    plain_ok: gr.Checkbox
    restore: tuple
    """(fn, inputs, outputs) for the page's load: the data chosen before a reload, chosen again."""


def missing_data(path: str, source: str, doubt: str = "", plain_ok: bool = True) -> str:
    """What stops a run for want of data, in the caller's language ("" when the data is usable); `doubt`, a
    label-like column left unused that the user has not accepted (`plain_ok`), stops it too."""
    if path and doubt and not plain_ok:
        return t("data.label_like_next", column=doubt)
    return "" if path else t("data.fix_first") if source else t("train.no_data")


def sample_choices(samples: list[dict]) -> list[tuple[str, str]]:
    """`name: description` per bundled sample, the description in the caller's language (`sample.<name>`)."""
    return [(f"{s['name']}: " + i18n.t_or(f"sample.{s['name']}", s["description"]), s["name"]) for s in samples]


def format_choices() -> list[tuple[str, str]]:
    """auto-detect, then each format by its name (a technical id) and its task in the caller's language."""
    return [(t("data.auto_detect"), "")] + [
        (t("data.format_choice", name=f.name, task=i18n.t_or(f"data.format_task.{f.task}", f.task)), f.name)
        for f in FORMATS.values()]


def column_updates(info: dict, fmt: str, show_all: bool = False) -> list:
    """One update per field dropdown: the file's columns as choices, the mapped column as value, shown only for
    the fields of the format in use (all of them while the format is unknown, or auto-detected from the user's
    own mapping, so no field disappears under the user's hand)."""
    shown = set(FORMATS[fmt].fields) if fmt in FORMATS and not show_all else set(FIELDS)
    columns, mapping = info.get("columns") or [], info.get("mapping") or {}
    updates = []
    for name in FIELDS:
        value = mapping.get(name) or (name if name in columns else None)
        updates.append(gr.update(choices=[(t("data.none"), "")] + [(c, c) for c in columns], value=value or "",
                                 visible=bool(columns) and name in shown))
    return updates


def preview_headers(names=("input", "answer")) -> list[str]:
    return [t(f"data.col_{name}") for name in names]


def preview_table(rows: list[list[str]] | None, names=("input", "answer")) -> dict:
    """The first rows (None: none) under the format's headers in the caller's language."""
    return {"headers": preview_headers(names), "data": rows or []}


def field_dropdown(name: str) -> gr.Dropdown:
    """The file column mapped onto format field `name`: labelled by the field's own name (and in Chinese its
    meaning), its help saying what the field holds (`data.field.<name>`; a field without one gets `data.field`)."""
    key = f"data.field.{name}" if f"data.field.{name}" in i18n.catalog() else "data.field"
    named = {} if "label" in i18n.catalog()[key] else {"label": name}
    return tr(key, gr.Dropdown, choices=[], visible=False, elem_id=f"col-{name}", **named)


def build(lab: Lab) -> DataTab:
    samples = lab.samples()
    source, path, task, options, val_path = gr.State(""), gr.State(""), gr.State(""), gr.State({}), gr.State("")
    with gr.Row():
        sample = tr("data.sample", gr.Dropdown, choices=sample_choices(samples), value=None, elem_id="sample")
        upload = tr("data.upload", gr.File, file_types=FILE_TYPES, elem_id="upload")
    summary = gr.Markdown(t("data.no_dataset"), elem_id="data-summary")  # redrawn by `retell` below
    plain_ok = tr("data.label_like_confirm", gr.Checkbox, False, visible=False, elem_id="plain-ok")
    doubt = gr.State("")
    with tr("data.format_panel", gr.Accordion, open=False, elem_id="format-panel") as panel:
        fmt = tr("data.format", gr.Dropdown, choices=format_choices(), value="", elem_id="format")
        tr("data.columns_intro", gr.Markdown)
        with gr.Row():
            dropdowns = [field_dropdown(name) for name in FIELDS]
        val_upload = tr("data.val_upload", gr.File, file_types=FILE_TYPES, elem_id="val-upload")
    table = tr("data.preview", gr.Dataframe, headers=preview_headers(), wrap=True, interactive=False)

    def show(src: str, fmt_v: str = "", columns: dict | None = None, val: str = ""):
        if not src:
            return ["", "", "", {}, t("data.no_dataset"), preview_table(None), "", gr.update()] \
                + column_updates({}, "") + [""]
        info = lab.inspect(src, fmt_v, columns, val)
        if not info["ok"]:
            mappable = any("map one to each" in p or "Map your columns" in p for p in info.get("problems", []))
            hint = "\n\n" + t("data.map_hint") if info.get("columns") and mappable else ""
            return [src, "", "", {}, t("data.unusable") + "\n\n" + info["summary"] + hint, preview_table(None),
                    gr.update(), gr.update(open=True) if hint else gr.update()] \
                + column_updates({**info, "mapping": columns or {}}, fmt_v) + [""]  # keep their picks
        opts = {"format": info["format"], "columns": info["mapping"], "val_path": val}
        label_like = (info.get("label_like") or [""])[0]
        warning = t("data.label_like", column=label_like, task=t(f"task.{info['task']}")) + "\n\n" if label_like else ""
        return [src, src, info["task"], opts, warning + "✅ " + info["summary"],
                preview_table(info["preview"], info.get("preview_headers") or ("input", "answer")),
                gr.update(), gr.update(open=True) if label_like else gr.update()] \
            + column_updates(info, info["format"], show_all=bool(columns) and not fmt_v) + [label_like]

    def pick(src, uploaded, val):
        kept = lab.keep_upload(src) if (src and uploaded) else src
        result = show(kept or "", "", None, val)
        result[6] = ""  # a new file starts with auto-detection, its own columns guessed
        return result

    def chosen(fmt_v, values) -> dict:
        """The user's mapping: every field they set (only the chosen format's, when they chose one)."""
        fields = FORMATS[fmt_v].fields if fmt_v in FORMATS else FIELDS
        return {n: v for n, v in zip(FIELDS, values) if v and n in fields}

    def remap(src, fmt_v, val, *values):
        columns = chosen(fmt_v, values)
        return show(src, fmt_v, columns, val) + [columns]

    def reformat(src, fmt_v, val, *values):
        columns = chosen(fmt_v, values) or None  # keep what fits the new format
        return show(src, fmt_v, columns, val) + [columns or {}]

    def set_val(src, fmt_v, file, columns):
        kept = lab.keep_upload(file) if file else ""
        return [kept] + show(src, fmt_v, columns or None, kept) + [columns]

    def retell(src, fmt_v, val, columns):
        """After a language switch: the summary, the first rows' headers and the "(none)" choices again, from
        what the tab holds (every handler above ends in show(source, format, mapped, val_path))."""
        shown = show(src, fmt_v, columns or None, val)
        return [shown[4], shown[5], *shown[8:8 + len(FIELDS)]]

    mapped = gr.State({})  # the columns the user mapped by hand ({} while they are guessed)
    outputs = [source, path, task, options, summary, table, fmt, panel, *dropdowns, doubt]
    def pick_sample(name, val):
        """A sample chosen; closing the list without a choice (an empty value) keeps the data as it is."""
        return pick(name, False, val) + [{}] if name else [gr.update()] * (len(outputs) + 1)

    sample.input(pick_sample, [sample, val_path], outputs + [mapped], **PRIVATE) \
        .then(lambda name: gr.update(value=None) if name else gr.update(), sample, upload, **PRIVATE)  # one data
    upload.upload(lambda f, v: pick(f, True, v) + [{}], [upload, val_path], outputs + [mapped], **PRIVATE) \
        .then(lambda: gr.update(value=None), None, sample, **PRIVATE)  # the sample no longer is the data
    doubt.change(lambda d: gr.update(visible=bool(d), value=False), doubt, plain_ok, **PRIVATE)
    upload.clear(lambda v: pick("", False, v) + [{}], val_path, outputs + [mapped], **PRIVATE)
    fmt.input(reformat, [source, fmt, val_path, *dropdowns], outputs + [mapped], **PRIVATE)
    for dropdown in dropdowns:
        dropdown.input(remap, [source, fmt, val_path, *dropdowns], outputs + [mapped], **PRIVATE)
    for event in (val_upload.upload, val_upload.clear):
        event(set_val, [source, fmt, val_upload, mapped], [val_path, *outputs, mapped], **PRIVATE)
    # the choices' labels are made here, not in the locale key: relabel them (values unchanged, so no .change)
    redraw(lambda: (gr.update(choices=sample_choices(samples)), gr.update(choices=format_choices())), [],
           [sample, fmt])
    redraw(retell, [source, fmt, val_path, mapped], [summary, table, *dropdowns])
    insight_panel.build(lab, path, task, options)
    remembered = gr.BrowserState({}, storage_key="ftlab-data")  # this browser's last usable data, across reloads
    gr.on([path.change, options.change],
          lambda p, o, f: {"source": p, "options": o, "chosen_format": f} if p else gr.update(),
          [path, options, fmt], remembered, **PRIVATE)

    def restore(saved, val):
        """The remembered sample or upload, read as it was (format, columns), shown again; nothing when it is gone
        or no longer the caller's."""
        src, opts = (saved or {}).get("source"), (saved or {}).get("options") or {}
        fmt_v, columns = (saved or {}).get("chosen_format") or "", opts.get("columns") or None  # detected: again
        if not src or not lab.inspect(src, fmt_v, columns).get("ok"):
            return [gr.update()] * (len(outputs) + 2)
        return show(src, fmt_v, columns, val) + [columns or {}, src if src in {s["name"] for s in samples} else None]

    return DataTab(path, task, options, summary, source, doubt, plain_ok,
                   (restore, [remembered, val_path], outputs + [mapped, sample]))
