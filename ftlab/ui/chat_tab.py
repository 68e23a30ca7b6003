"""Chat tab: one prompt, two panes. Base and tuned replies stream side by side, each pane keeping its history."""

from __future__ import annotations

import gradio as gr

from ftlab.service import Lab
from ftlab.ui.common import PRIVATE, RunPicker, run_picker


def build(lab: Lab) -> RunPicker:
    picker = run_picker(lab, "chat", "chat-run", "Finished chat runs; the base pane uses the run's base model.",
                        include_base=True)
    run = picker.run
    with gr.Accordion("Generation settings", open=False):
        system = gr.Textbox("", label="System prompt", info="Optional; sent to both models.")
        with gr.Row():
            temperature = gr.Slider(0, 2, value=0.7, step=0.05, label="Temperature", info="0 = greedy")
            top_p = gr.Slider(0.05, 1, value=0.9, step=0.05, label="Top-p")
            max_new = gr.Slider(8, 1024, value=128, step=8, label="Max new tokens")
    gr.Markdown("Multi-turn: each pane keeps its own conversation with its model. **Clear** starts both over.")
    with gr.Row():
        base_box = gr.Chatbot(label="Base model", elem_id="base-chat", height=380)
        tuned_box = gr.Chatbot(label="Tuned model", elem_id="tuned-chat", height=380)
    with gr.Row():
        message = gr.Textbox(placeholder="Ask both models the same thing…", show_label=False, scale=5,
                             elem_id="chat-input")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
        clear = gr.Button("Clear", scale=1, elem_id="chat-clear")
    base_hist, tuned_hist = gr.State([]), gr.State([])

    def respond(rid, text, sys_prompt, temp, top, n, base_h, tuned_h):
        if not text.strip():
            gr.Warning("Type a message first.")
            yield (gr.update(),) * 5
            return
        prefix = [{"role": "system", "content": sys_prompt}] if sys_prompt.strip() else []
        user = {"role": "user", "content": text}
        base_h, tuned_h = base_h + [user], tuned_h + [user]
        try:
            for b, t in lab.chat_stream(rid, prefix + base_h, prefix + tuned_h, temp, top, n):
                tuned_msg = t if rid else "(pick a fine-tuned run to compare)"
                new_b = base_h + [{"role": "assistant", "content": b}]
                new_t = tuned_h + [{"role": "assistant", "content": tuned_msg}]
                yield "", new_b, new_t, new_b, new_t
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(f"Could not generate: {exc}") from None

    inputs = [run, message, system, temperature, top_p, max_new, base_hist, tuned_hist]
    outputs = [message, base_box, tuned_box, base_hist, tuned_hist]
    send.click(respond, inputs, outputs, **PRIVATE)
    message.submit(respond, inputs, outputs, **PRIVATE)
    clear.click(lambda: ([], [], [], []), None, [base_box, tuned_box, base_hist, tuned_hist], **PRIVATE)
    return picker
