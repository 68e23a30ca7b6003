"""The Gradio app: one module per tab, composed here in the order of the job: Data -> Model & method -> Train ->
Compare -> Results -> Export (and Runs, the history). Each step hands its state to the next and ends with a "Next"
button; a language switch (English / 简体中文) redraws every text. The UI knows Gradio and the Lab, not torch."""

from __future__ import annotations

import gradio as gr

from ftlab import i18n
from ftlab.app import owners
from ftlab.app.lab import Lab
from ftlab.app.ui import (compare_tab, data_tab, endpoints, export_tab, model_tab, results_tab, runs_tab, scoping,
                      study_tab, train_tab, translate)
from ftlab.app.ui.common import PRIVATE
from ftlab.app.ui.data_tab import missing_data
from ftlab.app.ui.translate import tr

IDLE_SLEEP_S = 0.02
"""How often Gradio's queue looks for new events when it has none (its default, 1 ms, keeps an idle app at about
10 % of a core, taken from a training run on a small machine; 20 ms delays an event's start by at most that)."""
PROGRESS_SLEEP_S = 0.1
"""How often the queue looks for progress updates to send (default 10 ms)."""


CSS = """
button:disabled, button[disabled] { opacity: 0.4; cursor: not-allowed; filter: grayscale(60%); }
.vote-button { border: 1px solid #8a8a8a !important; border-radius: 6px !important; font-weight: 600;
               background: var(--button-secondary-background-fill) !important; }
.vote-button:hover { border-color: #444 !important; }
#votes-export, #chat-regenerate, #chat-clear { border: 1px solid #8a8a8a !important; border-radius: 6px !important;
  background: var(--button-secondary-background-fill) !important; font-weight: 600; }
"""
"""A disabled button looks disabled (Stop before a run, Resume while it trains); the vote buttons, the votes
download and the chat's Regenerate and Clear look like buttons.
Passed to `launch(css=...)` (Gradio 6 takes page styles there)."""


def queued(demo: gr.Blocks, concurrency: int = 4) -> gr.Blocks:
    """`demo.queue(...)` with calmer idle loops (see IDLE_SLEEP_S): the app should cost nothing while it waits."""
    demo.queue(default_concurrency_limit=concurrency)
    demo._queue.sleep_when_free = IDLE_SLEEP_S
    demo._queue.progress_update_sleep_when_free = PROGRESS_SLEEP_S
    return demo


def mode_note(lab: Lab) -> str:
    """What a shared server or a public demo holds each run to ("" for one's own machine)."""
    if not lab.shared:
        return ""
    limits = {"steps": lab.limits["steps"], "minutes": f"{lab.limits['minutes']:g}"}
    return translate.t("app.demo_note" if lab.demo else "app.shared_note", **limits)


def go_to(button: gr.Button, tabs: gr.Tabs, step: str, then: tuple | None = None) -> None:
    """`button` shows the tab of `step`, then runs `then` (fn, inputs, outputs): what the tab shows when it is
    opened by hand (a tab opened from code gets no select event)."""
    event = button.click(lambda: gr.Tabs(selected=step), None, tabs, **PRIVATE)
    if then:
        event.then(*then, **PRIVATE)


def warn(message: str):
    """A warning banner, and the page stays where it is."""
    gr.Warning(message)
    return gr.update()


def next_button(key: str, step: str) -> gr.Button:
    """The button at the foot of a tab that leads to `step` (wired by go_to)."""
    return tr(key, gr.Button, variant="primary", elem_id=f"next-{step}")


def build_app(lab: Lab | None = None) -> gr.Blocks:
    lab = lab or Lab()
    # shared mode: Gradio deletes the uploads and downloads it keeps once they are an hour old (checked every 30 min)
    with gr.Blocks(title="ftlab", delete_cache=(1800, 3600) if lab.shared else None) as demo, \
            translate.collecting() as texts:
        with gr.Row(equal_height=True):
            tr("app.intro", gr.Markdown, elem_id="intro")
            lang = gr.Radio([(name, code) for code, name in i18n.LANGS.items()], value=i18n.DEFAULT,
                            label="Language / 语言", elem_id="lang", scale=0, min_width=200)
        note = gr.Markdown(mode_note(lab), elem_id="mode-note")
        translate.redraw(lambda: mode_note(lab), [], note)
        with gr.Tabs(elem_id="steps") as tabs:
            with tr("tab.data", gr.Tab, id="data", elem_id="tab-data"):
                data = data_tab.build(lab)
                to_model = next_button("nav.to_model", "model")
            with tr("tab.model", gr.Tab, id="model", elem_id="tab-model") as model_item:
                setup = model_tab.build(lab, data)
                to_train = next_button("nav.to_train", "train")
            with tr("tab.train", gr.Tab, id="train", elem_id="tab-train"):
                train = train_tab.build(lab, data, setup)
            with tr("tab.compare", gr.Tab, id="compare", elem_id="tab-compare") as compare_item:
                compare = compare_tab.build(lab)
                to_results = next_button("nav.to_results", "results")
            with tr("tab.results", gr.Tab, id="results", elem_id="tab-results") as results_item:
                results = results_tab.build(lab)
                to_export = next_button("nav.to_export", "export")
            with tr("tab.export", gr.Tab, id="export", elem_id="tab-export") as export_item:
                export = export_tab.build(lab)
            with tr("tab.study", gr.Tab, id="study", elem_id="tab-study") as study_item:
                study = study_tab.build(lab)
            with tr("tab.runs", gr.Tab, id="runs", elem_id="tab-runs") as runs_item:
                runs = runs_tab.build(lab)
        current = train.run_id  # the page's current run: the one started, or picked in Train or Compare
        show_compare = (compare.show, [data.task, current], compare.outputs)
        show_results = (results.refresh, current, results.run)
        show_export = (export.refresh, current, export.run)  # later tabs open on the current run
        def to_model_step(path, source, doubt, plain_ok):
            problem = missing_data(path, source, doubt, plain_ok)
            return warn(problem) if problem else gr.Tabs(selected="model")

        to_model.click(to_model_step, [data.path, data.source, data.doubt, data.plain_ok], tabs, **PRIVATE)
        go_to(to_train, tabs, "train")
        go_to(train.done, tabs, "compare", show_compare)
        go_to(to_results, tabs, "results", show_results)
        go_to(to_export, tabs, "export", show_export)
        compare_item.select(*show_compare, **PRIVATE)
        results_item.select(*show_results, **PRIVATE)
        export_item.select(*show_export, **PRIVATE)
        runs_item.select(runs.refresh, None, runs.outputs, **PRIVATE)
        study_item.select(lambda s: gr.update(choices=study_tab.choices(lab), value=s), study.study, study.study,
                          **PRIVATE)
        train.study.change(lambda s: (gr.update(choices=study_tab.choices(lab), value=s), gr.Tabs(selected="study")),
                           train.study, [study.study, tabs], **PRIVATE)
        study.compare.click(lambda best, now: best or now, [study.best, current], current, **PRIVATE).then(
            lambda: gr.Tabs(selected="compare"), None, tabs, **PRIVATE).then(*show_compare, **PRIVATE)
        demo.load(*data.restore, **PRIVATE)
        demo.load(train.reattach, None, train.run_id, **PRIVATE)
        demo.load(*setup.estimate, **PRIVATE)
        model_item.select(*setup.estimate, **PRIVATE)  # a model converted or fetched since says so now
        demo.load(compare.show, data.task, compare.outputs, **PRIVATE)
        for picker in (compare.chat, compare.classify):  # a run picked to compare becomes the current run
            picker.run.input(lambda rid, now: rid or now, [picker.run, current], current, **PRIVATE)
        compare.chat.started.change(lambda rid, now: rid or now, [compare.chat.started, current], current,
                                    **PRIVATE).then(lambda: gr.Tabs(selected="train"), None, tabs, **PRIVATE)
        wire_language(demo, lang, texts)
        endpoints.register(lab)

        def session_ended(request: gr.Request) -> None:
            """A browser tab closed: an anonymous session's uploads go (a logged-in user keeps theirs)."""
            i18n.forget(request.session_hash)
            if not request.username:
                lab.end_session(owners.of(request))

        demo.unload(session_ended)
    scoping.scope_all(demo)  # every event and endpoint knows its caller (see ftlab.app.owners)
    return demo


KEEP_LANGUAGE = """(code) => {
  const url = new URL(window.location.href);
  url.searchParams.set("lang", code);
  window.history.replaceState(null, "", url);
  return code;
}"""
"""The language a person picks goes into the page's address (`?lang=zh`), which a reload then opens in."""


def wire_language(demo: gr.Blocks, lang: gr.Radio, texts: translate.Registry) -> None:
    """The page opens in the language its address (`?lang=zh`) or the browser asks for; the switch redraws every
    text made with `tr`, then the texts handlers wrote (`translate.redraw`)."""

    def detect(request: gr.Request):
        return i18n.from_request(request)

    def switch(code: str, request: gr.Request):
        i18n.remember(request.session_hash, code)
        i18n.use(code)
        return texts.updates(code)

    demo.load(detect, None, lang, **PRIVATE)
    lang.input(None, lang, None, js=KEEP_LANGUAGE, **PRIVATE)  # in the address: a reload keeps it
    event = lang.change(switch, lang, texts.components, **PRIVATE)
    for fn, inputs, outputs in texts.redraws:
        event = event.then(fn, inputs, outputs, show_progress="hidden", **PRIVATE)  # a text in another language
