"""Model & method tab: the task, base model, preset, method and its settings (advanced ones folded away), with the
trainable parameters and a memory estimate that follow every change. What is set here is what Start trains."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr

from ftlab import tasks
from ftlab.app import presets
from ftlab.modeling import NotFetched
from ftlab.app.lab import Lab
from ftlab.app import texts
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.settings_panel import settings_panel
from ftlab.app.ui.translate import redraw, t, tr


SUGGESTED = ["epochs", "learning_rate", "batch_size", "max_length", "lora.r", "lora.alpha", "early_stopping_patience",
             "early_stopping_metric", "eval_every", "classify.head_init"]
"""The settings chosen for the data, model and method (ftlab.train.defaults) that the tab fills in."""

APPLY = ("(found, yours, ...now) => " + json.dumps(SUGGESTED) + ".map((k, i) => found && k in found && "
         "!(yours || []).includes(k) ? found[k] : now[i])")
"""Run in the page when a suggestion arrives: it fills the fields the person has not typed into or taken from a
preset by then (the suggestion may have been asked for before they typed: read on the server, it would be stale)."""


def typed_js(key: str) -> str:
    """Run in the page on typing into a suggested field: it is the person's own from this keystroke on (the list is
    wrapped: a function's array is read as one value per output)."""
    return f"(yours) => [[...new Set([...(yours || []), {json.dumps(key)}])].sort()]"


def asked_for(data_path, options, task_v, model_v, method_v) -> list:
    """What a suggestion is for (the page keeps the last one's to know when its fields follow the choices)."""
    return [data_path, options, task_v, model_v.strip(), method_v]


def settled(lab: Lab, keys: list[str], data_path, options, chosen: list, typed, last) -> list:
    """The fields' values as Start takes them (`chosen`: task, model, method, then one per key): when the suggestion
    for this data, task, model and method has not reached the page yet (asked a moment before Start, `last` is what
    the page was last suggested for), its values replace those of the suggested fields the person has not typed into,
    as the page is about to."""
    task_v, model_v, method_v, *values = chosen
    if not data_path or asked_for(data_path, options, task_v, model_v, method_v) == last:
        return chosen
    try:
        found = lab.suggest(task_v, data_path, model_v.strip(), method_v, options or {})["settings"]
    except Exception:  # noqa: BLE001 - no suggestion for these: the fields stay as they are (the tab says why)
        return chosen
    mine = set(typed or [])
    return [task_v, model_v, method_v, *(found[k] if k in SUGGESTED and k in found and k not in mine else v
                                         for k, v in zip(keys, values))]


@dataclass
class ModelTab:
    inputs: list
    """Every input `config` takes, after the data tab's path and options."""
    config: object
    """(data_path, options, task, model, method, *settings) -> RunConfig"""
    estimate: tuple
    """(fn, inputs, output): the parameters and memory line, drawn when the page opens."""
    pending: list
    """The page's own record of its suggestion (the fields typed into, what it was last suggested for): `settled`
    reads them."""
    settled: object
    """(data_path, options, [task, model, method, *settings], typed, last) -> those settings as Start takes them"""


def method_help(name: str, blocked: list[str]) -> str:
    text = f"**{t(f'method.{name}.label')}**: {t(f'method.{name}.help')}"
    return text + ("\n\n" + t("model.unavailable", methods="; ".join(blocked)) if blocked else "")


def own_settings(owners: list[dict], controls: dict):
    """method (or task) name -> {control: whether it shows}: a method's own settings (`lora.r` for LoRA,
    `quant.bits` for QLoRA) or a task's (`preference.beta`) show for those that read them, hidden for the others.
    An owner names whole sections (`lora`) or single settings (`eval.max_new_tokens`)."""
    sections = {m["name"]: set(m["settings"]) for m in owners}
    every = set().union(*sections.values())

    def reads(key: str, names: set) -> bool:
        return key in names or key.split(".")[0] in names

    owned = {key: control for key, control in controls.items() if reads(key, every)}
    return lambda name: {control: reads(key, sections.get(name, set())) for key, control in owned.items()}


def task_settings() -> list[dict]:
    """Each task's own settings for the page: its sections, and the length of the replies its evaluations generate
    for a task that answers in replies (a classifier generates none)."""
    return [{"name": name, "settings": [*tasks.get(name).settings,
                                        *(["eval.max_new_tokens"] if tasks.get(name).try_out == "chat" else [])]}
            for name in tasks.names()]


def build(lab: Lab, data) -> ModelTab:
    methods_info = lab.methods()
    usable = [(t(f"method.{m['name']}.label"), m["name"]) for m in methods_info if not m["unavailable"]]
    blocked = [f"{m['label']}: {m['unavailable']}" for m in methods_info if m["unavailable"]]
    with gr.Row():
        task = tr("model.task", gr.Radio, choices=tasks.names(), value="chat", elem_id="task")
        model = tr("model.model", gr.Textbox, tasks.get("chat").default_model, elem_id="model")
        preset = tr("model.preset", gr.Dropdown, value=None, elem_id="preset")
    method = tr("model.method", gr.Radio, choices=usable, value="lora", elem_id="method")
    help_md = gr.Markdown(method_help("lora", blocked), elem_id="method-help")
    why_md = gr.Markdown("", elem_id="defaults-why")
    with gr.Row():
        epochs = tr("model.epochs", gr.Number, tasks.get("chat").defaults["epochs"], step=0.5, elem_id="epochs")
        lr = tr("model.lr", gr.Number, tasks.get("chat").defaults["learning_rate"], step=1e-5, elem_id="lr")
        batch = tr("model.batch", gr.Number, tasks.get("chat").defaults["batch_size"], precision=0, elem_id="batch-size")
        max_len = tr("model.max_length", gr.Number, tasks.get("chat").defaults["max_length"], precision=0,
                     elem_id="max-length")
    lora = next(m["settings"] for m in methods_info if m["name"] == "lora")
    tasks_info = task_settings()
    owned = {s for m in methods_info + tasks_info for s in m["settings"] if "." not in s}
    advanced = settings_panel(hidden=owned - set(lora) - set(tasks.get("chat").settings))
    with gr.Row():
        plan_md = gr.Markdown("", elem_id="plan")
        estimate_btn = tr("model.estimate", gr.Button, size="sm", elem_id="estimate")
    basics = {"epochs": epochs, "learning_rate": lr, "batch_size": batch, "max_length": max_len}
    keys, fields = list(basics) + list(advanced), list(basics.values()) + list(advanced.values())

    def on_task(new_task: str, current: str):
        if not new_task or new_task == current:  # same task: keep what the user typed
            return (gr.update(),) * 2
        return new_task, tasks.get(new_task).default_model

    def on_task_pick(new_task: str, model_v: str):
        """The user picked a task: a default model of the other task follows it (a model they typed stays)."""
        if model_v.strip() not in tasks.default_models().values() or model_v.strip() == tasks.get(new_task).default_model:
            return gr.update()
        return tasks.get(new_task).default_model

    controls = {**basics, **advanced}
    yours = gr.JSON([], visible=False)
    """The suggested settings the person has typed into, held in the page: a suggestion leaves them as they are."""

    def suggest(data_path, options, task_v, model_v, method_v, typed, last, again=False):
        """The settings chosen for this data, model and method (Lab.suggest), for the page to fill in (APPLY), and
        why; nothing when none of these changed (leaving the model box for the epochs must not put back a
        suggestion over what is being typed there)."""
        asked = asked_for(data_path, options, task_v, model_v, method_v)
        if not data_path or (asked == last and not again):
            return [None, gr.update() if data_path else "", asked]
        try:
            found = lab.suggest(task_v, data_path, model_v.strip(), method_v, options or {})
        except Exception as exc:  # noqa: BLE001 - shown to the user, the fields stay as they are
            return [None, t("defaults.none", problem=str(exc)), asked]
        names = {"data": Path(data_path).name, "model": Path(model_v.strip()).name}
        return [found["settings"], texts.defaults_why(found, typed or [], **names), asked]

    def on_preset(name, task_v, typed):
        """A preset's values into the fields; they count as the person's own (a suggestion leaves them)."""
        if not name:
            return [gr.update()] * (len(fields) + 2)
        values = presets.get(name, task_v or "chat")
        return ([values.get("method", gr.update())] + [values.get(k, gr.update()) for k in keys]
                + [sorted({*(typed or []), *(k for k in values if k in SUGGESTED)})])

    def config(data_path, options, task_v, model_v, method_v, *values):
        settings = {**dict(zip(keys, values)), **(options or {})}
        return lab.build_config(task_v, data_path or "pirate_chat", model_v.strip(), method_v, **settings)

    def estimate(fetch, data_path, options, task_v, model_v, method_v, *values):
        try:
            cfg = config(data_path, options, task_v, model_v, method_v, *values)
            return texts.estimate(lab.estimate(cfg.to_dict(), fetch))
        except NotFetched as exc:
            return t("model.not_fetched", problem=texts.not_fetched(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            return t("model.no_estimate", problem=str(exc))

    inputs = [data.path, data.options, task, model, method, *fields]
    method.change(lambda m: method_help(m, blocked), method, help_md, **PRIVATE)
    for owners, chooser in ((methods_info, method), (tasks_info, task)):  # a method's or a task's own settings
        own = own_settings(owners, advanced)
        chooser.change(lambda name, own=own: [gr.update(visible=shown) for shown in own(name).values()], chooser,
                       list(own("")), **PRIVATE)
    data.task.change(on_task, [data.task, task], [task, model], **PRIVATE)
    task.input(on_task_pick, [task, model], model, **PRIVATE)
    for key in SUGGESTED:
        controls[key].input(None, yours, yours, js=typed_js(key), **PRIVATE)
    last, found = gr.State(None), gr.JSON(None, visible=False)
    suggested, filled = [data.path, data.options, task, model, method, yours, last], [found, why_md, last]
    gr.on([data.path.change, data.options.change, task.change, method.change, model.blur, model.submit], suggest,
          suggested, filled, trigger_mode="always_last", show_progress="hidden", **PRIVATE).then(
        None, [found, yours, *(controls[k] for k in SUGGESTED)], [controls[k] for k in SUGGESTED], js=APPLY, **PRIVATE)
    redraw(partial(suggest, again=True), suggested, filled)
    preset.input(on_preset, [preset, task, yours], [method, *fields, yours], **PRIVATE)
    changes = [method.change, task.change, model.blur, model.submit, data.path.change,
               *(f.change for f in fields)]  # the estimate follows every setting, never stale
    gr.on(changes, partial(estimate, False), inputs, plan_md, trigger_mode="always_last", show_progress="hidden",
          **PRIVATE)  # updates of their own: no overlay over the lines while they follow the settings
    estimate_btn.click(partial(estimate, True), inputs, plan_md, **PRIVATE)
    redraw(lambda m: method_help(m, blocked), [method], help_md)
    redraw(partial(estimate, False), inputs, plan_md)
    return ModelTab(inputs[2:], config, (partial(estimate, False), inputs, plan_md), [yours, last],
                    partial(settled, lab, keys))
