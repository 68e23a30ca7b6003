"""The Gradio app: one module per tab, composed here. The UI knows Gradio and the Lab service, not torch."""

from __future__ import annotations

import gradio as gr

from ftlab import owners
from ftlab.service import Lab
from ftlab.ui import chat_tab, classify_tab, data_tab, endpoints, results_tab, runs_tab, train_tab
from ftlab.ui.common import PRIVATE

INTRO = """# ftlab: fine-tune, then compare base vs tuned
**1. Data**: pick a sample or upload a CSV, TSV, JSON(L), Parquet or TXT file. **2. Train**: choose a model and method, press
Start and watch the loss. **3. Chat** or **4. Classify**: the base and the tuned model answer the same input
side by side. **5. Results**: base vs tuned on the validation split, example by example. **6. Runs**: every run,
compared."""


IDLE_SLEEP_S = 0.02
"""How often Gradio's queue looks for new events when it has none (its default, 1 ms, keeps an idle app at about
10 % of a core, taken from a training run on a small machine; 20 ms delays an event's start by at most that)."""
PROGRESS_SLEEP_S = 0.1
"""How often the queue looks for progress updates to send (default 10 ms)."""


def queued(demo: gr.Blocks, concurrency: int = 4) -> gr.Blocks:
    """`demo.queue(...)` with calmer idle loops (see IDLE_SLEEP_S): the app should cost nothing while it waits."""
    demo.queue(default_concurrency_limit=concurrency)
    demo._queue.sleep_when_free = IDLE_SLEEP_S
    demo._queue.progress_update_sleep_when_free = PROGRESS_SLEEP_S
    return demo


def build_app(lab: Lab | None = None) -> gr.Blocks:
    lab = lab or Lab()
    # shared mode: Gradio deletes the uploads and downloads it keeps once they are an hour old (checked every 30 min)
    with gr.Blocks(title="ftlab", delete_cache=(1800, 3600) if lab.shared else None) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("1. Data", id="data"):
                data = data_tab.build(lab)
            with gr.Tab("2. Train", id="train"):
                train = train_tab.build(lab, data)
            with gr.Tab("3. Chat", id="chat") as chat_tab_item:
                chat = chat_tab.build(lab)
            with gr.Tab("4. Classify", id="classify") as classify_tab_item:
                classify = classify_tab.build(lab)
            with gr.Tab("5. Results", id="results") as results_tab_item:
                results = results_tab.build(lab)
            with gr.Tab("6. Runs", id="runs") as runs_tab_item:
                runs = runs_tab.build(lab)
        chat_tab_item.select(chat.refresh, None, chat.run, **PRIVATE)
        classify_tab_item.select(classify.refresh, None, classify.run, **PRIVATE)
        results_tab_item.select(results.refresh, None, results.run, **PRIVATE)
        runs_tab_item.select(runs.refresh, None, runs.outputs, **PRIVATE)
        demo.load(train.reattach, None, train.run_id, **PRIVATE)
        demo.load(chat.refresh, None, chat.run, **PRIVATE)
        demo.load(classify.refresh, None, classify.run, **PRIVATE)
        endpoints.register(lab)

        def session_ended(request: gr.Request) -> None:
            """A browser tab closed: an anonymous session's uploads go (a logged-in user keeps theirs)."""
            if not request.username:
                lab.end_session(owners.of(request))

        demo.unload(session_ended)
    owners.scope_all(demo)  # every event and endpoint knows its caller (see ftlab.owners)
    return demo
