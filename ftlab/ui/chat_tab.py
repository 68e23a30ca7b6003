"""Chat tab: one prompt, two panes. Base and tuned replies stream side by side, each pane keeping its history.

Regenerate answers the last message again. Blind A/B hides which pane is which (the sides are drawn at random for
each conversation) until the user votes; votes are kept with the run and export as preference pairs (prompt,
chosen, rejected JSONL) for a later DPO run.
"""

from __future__ import annotations

import random

import gradio as gr

from ftlab.service import Lab
from ftlab.ui.common import PRIVATE, RunPicker, run_picker

VOTES = {"A is better": "A", "B is better": "B", "Tie": "tie", "Both bad": "both bad"}


def panes(base_h: list, tuned_h: list, blind: bool, swap: bool) -> tuple[list, list]:
    """What the left and right panes show: base | tuned, or in blind mode A | B in the drawn order."""
    return (tuned_h, base_h) if blind and swap else (base_h, tuned_h)


def labels(blind: bool, swap: bool, revealed: bool) -> tuple[str, str]:
    if not blind:
        return "Base model", "Tuned model"
    if not revealed:
        return "Model A", "Model B"
    return ("Model A: tuned", "Model B: base") if swap else ("Model A: base", "Model B: tuned")


def vote_record(choice: str, base_h: list, tuned_h: list, swap: bool) -> dict:
    """{winner: base | tuned | tie | both bad, prompt, base, tuned} for the last turn."""
    side = VOTES[choice]
    winner = side if side in ("tie", "both bad") else ("tuned" if (side == "A") == swap else "base")
    return {"winner": winner, "prompt": list(base_h[:-1]), "base": base_h[-1]["content"], "tuned": tuned_h[-1]["content"]}


def pairs_file(lab: Lab, run_id: str) -> str | None:
    lines = lab.preference_pairs_jsonl(run_id)
    if not lines:
        return None
    path = lab.scratch_dir("ftlab-votes-") / f"{run_id}-preference-pairs.jsonl"
    path.write_text(lines, encoding="utf-8")
    return str(path)


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
    with gr.Row():
        gr.Markdown("Multi-turn: each pane keeps its own conversation with its model. **Clear** starts both over.")
        blind = gr.Checkbox(False, label="Blind A/B: hide which pane is which until I vote", elem_id="blind")
    with gr.Row():
        left = gr.Chatbot(label="Base model", elem_id="base-chat", height=380)
        right = gr.Chatbot(label="Tuned model", elem_id="tuned-chat", height=380)
    with gr.Row():
        message = gr.Textbox(placeholder="Ask both models the same thing…", show_label=False, scale=5,
                             elem_id="chat-input")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
        again = gr.Button("Regenerate", scale=1, elem_id="chat-regenerate")
        clear = gr.Button("Clear", scale=1, elem_id="chat-clear")
    with gr.Row(visible=False) as vote_row:
        vote_buttons = [gr.Button(name, size="sm", elem_id=f"vote-{i}") for i, name in enumerate(VOTES)]
        export = gr.DownloadButton("Export votes as preference pairs (JSONL)", size="sm", elem_id="votes-export")
    verdict = gr.Markdown("", elem_id="vote-result")
    base_hist, tuned_hist, swap, revealed = gr.State([]), gr.State([]), gr.State(False), gr.State(False)

    def shown(base_h, tuned_h, blind_v, swap_v, revealed_v):
        a, b = panes(base_h, tuned_h, blind_v, swap_v)
        la, lb = labels(blind_v, swap_v, revealed_v)
        return gr.update(value=a, label=la), gr.update(value=b, label=lb)

    def generate(rid, sys_prompt, temp, top, n, base_h, tuned_h, blind_v, swap_v):
        prefix = [{"role": "system", "content": sys_prompt}] if sys_prompt.strip() else []
        try:
            for b, t in lab.chat_stream(rid, prefix + base_h, prefix + tuned_h, temp, top, n):
                tuned_msg = t if rid else "(pick a fine-tuned run to compare)"
                new_b = base_h + [{"role": "assistant", "content": b}]
                new_t = tuned_h + [{"role": "assistant", "content": tuned_msg}]
                yield ("", *shown(new_b, new_t, blind_v, swap_v, False), new_b, new_t, False,
                       gr.update(visible=blind_v and bool(rid)), "")
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(f"Could not generate: {exc}") from None

    def respond(rid, text, sys_prompt, temp, top, n, base_h, tuned_h, blind_v, swap_v):
        if not text.strip():
            gr.Warning("Type a message first.")
            yield (gr.update(),) * 8
            return
        user = {"role": "user", "content": text}
        yield from generate(rid, sys_prompt, temp, top, n, base_h + [user], tuned_h + [user], blind_v, swap_v)

    def regenerate(rid, sys_prompt, temp, top, n, base_h, tuned_h, blind_v, swap_v):
        if not base_h:
            gr.Warning("Nothing to regenerate yet.")
            yield (gr.update(),) * 8
            return
        yield from generate(rid, sys_prompt, temp, top, n, base_h[:-1], tuned_h[:-1], blind_v, swap_v)

    def vote(choice, rid, base_h, tuned_h, blind_v, swap_v):
        if not rid or len(base_h) < 2:
            raise gr.Error("Vote after both models have answered a fine-tuned run's prompt.")
        record = vote_record(choice, base_h, tuned_h, swap_v)
        lab.vote(rid, record)
        text = f"Recorded: **{record['winner']}**" + ("" if record["winner"] in ("tie", "both bad") else " wins")
        return (*shown(base_h, tuned_h, blind_v, swap_v, True), True, text, gr.update(value=pairs_file(lab, rid)))

    def reset(blind_v):
        return [], [], *shown([], [], blind_v, False, False), random.random() < 0.5, False, "", gr.update(visible=False)

    gen_inputs = [run, system, temperature, top_p, max_new, base_hist, tuned_hist, blind, swap]
    outputs = [message, left, right, base_hist, tuned_hist, revealed, vote_row, verdict]
    send.click(respond, [run, message, *gen_inputs[1:]], outputs, **PRIVATE)
    message.submit(respond, [run, message, *gen_inputs[1:]], outputs, **PRIVATE)
    again.click(regenerate, gen_inputs, outputs, **PRIVATE)
    reset_outputs = [base_hist, tuned_hist, left, right, swap, revealed, verdict, vote_row]
    clear.click(reset, blind, reset_outputs, **PRIVATE)
    blind.change(reset, blind, reset_outputs, **PRIVATE)  # switching modes starts a fresh conversation
    for button, name in zip(vote_buttons, VOTES):
        button.click(lambda *a, n=name: vote(n, *a), [run, base_hist, tuned_hist, blind, swap],
                     [left, right, revealed, verdict, export], **PRIVATE)
    return picker
