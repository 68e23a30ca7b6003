"""Data tab: pick a bundled sample or upload a file; see the detected format (with the reason), override it, map
the file's columns onto the format's fields, add a validation file, and see the validation result and first rows.

What the user settles here (format, column mapping, validation file) travels to the run's config as `options`.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ftlab.formats import FIELDS, FORMATS
from ftlab.service import Lab
from ftlab.ui import insight_panel
from ftlab.ui.common import PRIVATE

FILE_TYPES = [".csv", ".tsv", ".jsonl", ".json", ".parquet", ".txt", ".gz"]


@dataclass
class DataTab:
    path: gr.State
    task: gr.State
    options: gr.State
    """{"format", "columns", "val_path"}: the data settings of the run to start."""
    summary: gr.Markdown


def column_updates(info: dict, fmt: str, show_all: bool = False) -> list:
    """One update per field dropdown: the file's columns as choices, the mapped column as value, shown only for
    the fields of the format in use (all of them while the format is unknown, or auto-detected from the user's
    own mapping, so no field disappears under the user's hand)."""
    shown = set(FORMATS[fmt].fields) if fmt in FORMATS and not show_all else set(FIELDS)
    columns, mapping = info.get("columns") or [], info.get("mapping") or {}
    updates = []
    for name in FIELDS:
        value = mapping.get(name) or (name if name in columns else None)
        updates.append(gr.update(choices=[("(none)", "")] + [(c, c) for c in columns], value=value or "",
                                 visible=bool(columns) and name in shown))
    return updates


def build(lab: Lab) -> DataTab:
    samples = lab.samples()
    source, path, task, options, val_path = gr.State(""), gr.State(""), gr.State(""), gr.State({}), gr.State("")
    with gr.Row():
        sample = gr.Dropdown([(f"{s['name']}: {s['description']}", s["name"]) for s in samples], value=None,
                             label="Sample dataset", info="Bundled examples; no upload needed.", elem_id="sample")
        upload = gr.File(label="…or upload CSV, TSV, JSONL, JSON, Parquet or TXT (gzipped too)",
                         file_types=FILE_TYPES, elem_id="upload")
    summary = gr.Markdown("No dataset chosen yet.", elem_id="data-summary")
    with gr.Accordion("Format, columns and validation file", open=False, elem_id="format-panel") as panel:
        fmt = gr.Dropdown([("auto-detect", "")] + [(f"{f.name} ({f.task})", f.name) for f in FORMATS.values()],
                          value="", label="Format", elem_id="format",
                          info="Detected from the columns; override it when a file could be read more than one way.")
        gr.Markdown("Which column of your file holds each field (when the names differ):")
        with gr.Row():
            dropdowns = [gr.Dropdown([], label=name, visible=False, elem_id=f"col-{name}") for name in FIELDS]
        val_upload = gr.File(label="Separate validation file (optional; otherwise a share of the rows is held out)",
                             file_types=FILE_TYPES, elem_id="val-upload")
    table = gr.Dataframe(headers=["input / text", "answer / label"], label="First rows", wrap=True,
                         interactive=False)

    def show(src: str, fmt_v: str = "", columns: dict | None = None, val: str = ""):
        if not src:
            return ["", "", "", {}, "No dataset chosen yet.", None, "", gr.update()] + column_updates({}, "")
        info = lab.inspect(src, fmt_v, columns, val)
        if not info["ok"]:
            hint = ("\n\nMap the file's columns under **Format, columns and validation file** below."
                    if info.get("columns") else "")
            return [src, "", "", {}, "⚠️ This file can't be used yet.\n\n" + info["summary"] + hint, None,
                    gr.update(), gr.update(open=True) if hint else gr.update()] \
                + column_updates({**info, "mapping": columns or {}}, fmt_v)  # keep their picks
        opts = {"format": info["format"], "columns": info["mapping"], "val_path": val}
        return [src, src, info["task"], opts, "✅ " + info["summary"], info["preview"],
                gr.update(), gr.update()] + column_updates(info, info["format"], show_all=bool(columns) and not fmt_v)

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

    mapped = gr.State({})  # the columns the user mapped by hand ({} while they are guessed)
    outputs = [source, path, task, options, summary, table, fmt, panel, *dropdowns]
    sample.change(lambda s, v: pick(s, False, v) + [{}], [sample, val_path], outputs + [mapped], **PRIVATE)
    upload.upload(lambda f, v: pick(f, True, v) + [{}], [upload, val_path], outputs + [mapped], **PRIVATE)
    upload.clear(lambda v: pick("", False, v) + [{}], val_path, outputs + [mapped], **PRIVATE)
    fmt.input(reformat, [source, fmt, val_path, *dropdowns], outputs + [mapped], **PRIVATE)
    for dropdown in dropdowns:
        dropdown.input(remap, [source, fmt, val_path, *dropdowns], outputs + [mapped], **PRIVATE)
    for event in (val_upload.upload, val_upload.clear):
        event(set_val, [source, fmt, val_upload, mapped], [val_path, *outputs, mapped], **PRIVATE)
    insight_panel.build(lab, path, task, options)
    return DataTab(path, task, options, summary)
