"""Chat tab: one prompt, two panes. Base and tuned replies stream side by side, each pane keeping its history.

Regenerate answers the last message again. Blind A/B hides which pane is which (the sides are drawn at random for
each conversation) until the user votes; votes are kept with the run and export as preference pairs (prompt,
chosen, rejected JSONL) for a later DPO run.
"""

from __future__ import annotations

import random
from functools import partial

import gradio as gr

from ftlab import i18n
from ftlab.app.lab import Lab
from ftlab.app.ui.common import PRIVATE, RunPicker, against_choices, run_picker
from ftlab.app.ui.translate import redraw, t, tr

VOTES = {"A": "chat.vote_a", "B": "chat.vote_b", "tie": "chat.vote_tie", "both bad": "chat.vote_bad"}
"""The vote buttons, in order: the side a vote is for (language-independent) -> the locale key of its name."""
WINNERS = {"base": "chat.who_base", "tuned": "chat.who_tuned", "tie": "chat.who_tie", "both bad": "chat.who_both_bad"}
"""A recorded winner (stored data, always these English values) -> the locale key of its name on screen."""


def side_of(choice: str) -> str:
    """The side a vote is for: "A", "B", "tie" or "both bad", from that value or a button's name in any language
    ("A is better", "A 更好")."""
    if choice in VOTES:
        return choice
    for side, key in VOTES.items():
        if choice in {i18n.texts(key, lang)["value"] for lang in i18n.LANGS}:
            return side
    raise KeyError(choice)


def panes(base_h: list, tuned_h: list, blind: bool, swap: bool) -> tuple[list, list]:
    """What the left and right panes show: base | tuned, or in blind mode A | B in the drawn order."""
    return (tuned_h, base_h) if blind and swap else (base_h, tuned_h)


def who(side: str, against: str = "") -> str:
    """The name of a pane's model ("base", "tuned", ...; the base pane is run `against` when one answers there)."""
    return t("chat.who_run", run=against) if side == "base" and against else t(WINNERS[side])


def labels(blind: bool, swap: bool, revealed: bool, against: str = "") -> tuple[str, str]:
    """The panes' names in the caller's language: base (or run `against`) | tuned, or A | B (with who is who once
    revealed)."""
    if not blind:
        return (t("chat.against_pane", run=against) if against else t("chat.base")), t("chat.tuned")
    if not revealed:
        return t("chat.model_a"), t("chat.model_b")
    a, b = ("tuned", "base") if swap else ("base", "tuned")
    return t("chat.model_a_is", who=who(a, against)), t("chat.model_b_is", who=who(b, against))


def vote_record(choice: str, base_h: list, tuned_h: list, swap: bool, against: str = "") -> dict:
    """{winner: base | tuned | tie | both bad, prompt, base, tuned} for the last turn, with `against` when another
    run answered in the base's pane; `choice` is a side of VOTES (or a vote button's name)."""
    side = side_of(choice)
    winner = side if side in ("tie", "both bad") else ("tuned" if (side == "A") == swap else "base")
    record = {"winner": winner, "prompt": list(base_h[:-1]), "base": base_h[-1]["content"],
              "tuned": tuned_h[-1]["content"]}
    return {**record, "against": against} if against else record


def verdict_text(winner: str, against: str = "") -> str:
    """What a recorded vote shows, in the caller's language ("" before any vote)."""
    if not winner:
        return ""
    key = "chat.recorded" if winner in ("tie", "both bad") else "chat.recorded_win"
    return t(key, winner=who(winner, against))


def pairs_file(lab: Lab, run_id: str) -> str | None:
    lines = lab.preference_pairs_jsonl(run_id)
    if not lines:
        return None
    path = lab.scratch_dir("ftlab-votes-") / f"{run_id}-preference-pairs.jsonl"
    path.write_text(lines, encoding="utf-8")
    return str(path)


def build(lab: Lab) -> RunPicker:
    picker = run_picker(lab, "chat", "chat-run", "chat.run", include_base=True)
    run = picker.run
    against = tr("chat.against", gr.Dropdown, choices=against_choices(lab, None), value="", elem_id="chat-against")
    with tr("chat.settings", gr.Accordion, open=False):
        system = tr("chat.system", gr.Textbox, "")
        with gr.Row():
            temperature = tr("chat.temperature", gr.Slider, 0, 2, value=0.7, step=0.05)
            top_p = tr("chat.top_p", gr.Slider, 0.05, 1, value=0.9, step=0.05)
            max_new = tr("chat.max_new", gr.Slider, 8, 1024, value=128, step=8)
        runtime = tr("chat.runtime", gr.Radio, choices=["transformers", "llama.cpp"], value="transformers",
                     elem_id="chat-runtime")
    with gr.Row():
        tr("chat.about", gr.Markdown)
        blind = tr("chat.blind", gr.Checkbox, False, elem_id="blind")
    with gr.Row():
        left = gr.Chatbot(label=t("chat.base"), elem_id="base-chat", height=380)
        right = gr.Chatbot(label=t("chat.tuned"), elem_id="tuned-chat", height=380)
    with gr.Row():
        message = tr("chat.message", gr.Textbox, show_label=False, scale=5, elem_id="chat-input")
        send = tr("chat.send", gr.Button, variant="primary", scale=1, elem_id="chat-send")
        again = tr("chat.regenerate", gr.Button, scale=1, elem_id="chat-regenerate")
        clear = tr("chat.clear", gr.Button, scale=1, elem_id="chat-clear")
    with gr.Row(visible=False) as vote_row:
        vote_buttons = [tr(key, gr.Button, variant="secondary", elem_id=f"vote-{i}", elem_classes=["vote-button"])
                        for i, key in enumerate(VOTES.values())]
        export = tr("chat.export", gr.DownloadButton, elem_id="votes-export", variant="secondary",
                    scale=2)  # a download, said so: not one more vote
        train_votes = tr("chat.train_on_votes", gr.Button, variant="primary", elem_id="train-on-votes", scale=2)
    started = gr.Textbox(visible=False, elem_id="votes-run")
    verdict = gr.Markdown("", elem_id="vote-result")
    base_hist, tuned_hist, swap, revealed = gr.State([]), gr.State([]), gr.State(False), gr.State(False)
    winner = gr.State("")  # the last recorded winner, so its verdict can be redrawn in another language

    def shown(base_h, tuned_h, blind_v, swap_v, revealed_v, other=""):
        a, b = panes(base_h, tuned_h, blind_v, swap_v)
        la, lb = labels(blind_v, swap_v, revealed_v, other)
        return gr.update(value=a, label=la), gr.update(value=b, label=lb)

    def generate(rid, other, engine, sys_prompt, temp, top, n, base_h, tuned_h, blind_v, swap_v):
        prefix = [{"role": "system", "content": sys_prompt}] if sys_prompt.strip() else []
        try:
            for b, tuned in lab.chat_stream(rid, prefix + base_h, prefix + tuned_h, temp, top, n, against=other,
                                            runtime=engine):
                tuned_msg = tuned if rid else t("chat.no_tuned")
                new_b = base_h + [{"role": "assistant", "content": b}]
                new_t = tuned_h + [{"role": "assistant", "content": tuned_msg}]
                yield ("", *shown(new_b, new_t, blind_v, swap_v, False, other), new_b, new_t, False,
                       gr.update(visible=blind_v and bool(rid)), "", "")
        except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
            raise gr.Error(t("chat.failed", problem=str(exc)), title=t("banner.problem")) from None

    def respond(rid, other, engine, text, sys_prompt, temp, top, n, base_h, tuned_h, blind_v, swap_v):
        if not text.strip():
            gr.Warning(t("chat.type_first"), title=t("banner.not_yet"))
            yield (gr.update(),) * 9
            return
        user = {"role": "user", "content": text}
        yield from generate(rid, other, engine, sys_prompt, temp, top, n, base_h + [user], tuned_h + [user], blind_v,
                            swap_v)

    def regenerate(rid, other, engine, sys_prompt, temp, top, n, base_h, tuned_h, blind_v, swap_v):
        if not base_h:
            gr.Warning(t("chat.nothing_yet"), title=t("banner.not_yet"))
            yield (gr.update(),) * 9
            return
        yield from generate(rid, other, engine, sys_prompt, temp, top, n, base_h[:-1], tuned_h[:-1], blind_v, swap_v)

    def vote(side, rid, other, base_h, tuned_h, blind_v, swap_v):
        if not rid or len(base_h) < 2:
            raise gr.Error(t("chat.vote_first"), title=t("banner.not_yet"))
        record = vote_record(side, base_h, tuned_h, swap_v, other)
        lab.vote(rid, record)
        return (*shown(base_h, tuned_h, blind_v, swap_v, True, other), True, verdict_text(record["winner"], other),
                record["winner"], gr.update(value=pairs_file(lab, rid)))

    def reset(blind_v, other):
        return ([], [], *shown([], [], blind_v, False, False, other), random.random() < 0.5, False, "", "",
                gr.update(visible=False))

    def relabel(blind_v, swap_v, revealed_v, winner_v, other):
        """After a language switch: the panes' names and the verdict in the new language."""
        la, lb = labels(blind_v, swap_v, revealed_v, other)
        return gr.update(label=la), gr.update(label=lb), verdict_text(winner_v, other)

    gen_inputs = [run, against, runtime, system, temperature, top_p, max_new, base_hist, tuned_hist, blind, swap]
    outputs = [message, left, right, base_hist, tuned_hist, revealed, vote_row, verdict, winner]
    send.click(respond, [run, against, runtime, message, *gen_inputs[3:]], outputs, **PRIVATE)
    message.submit(respond, [run, against, runtime, message, *gen_inputs[3:]], outputs, **PRIVATE)
    again.click(regenerate, gen_inputs, outputs, **PRIVATE)
    reset_outputs = [base_hist, tuned_hist, left, right, swap, revealed, verdict, winner, vote_row]
    clear.click(reset, [blind, against], reset_outputs, **PRIVATE)
    # another run: its own conversation, next to its base until another is chosen
    run.change(lambda rid: gr.update(choices=against_choices(lab, rid), value=""), run, against, **PRIVATE)
    against.change(reset, [blind, against], reset_outputs, **PRIVATE)  # another pair of models: a fresh start
    run.change(reset, [blind, against], reset_outputs, **PRIVATE)
    blind.change(reset, [blind, against], reset_outputs, **PRIVATE)  # switching modes starts a fresh conversation
    for button, side in zip(vote_buttons, VOTES):
        button.click(lambda *a, s=side: vote(s, *a), [run, against, base_hist, tuned_hist, blind, swap],
                     [left, right, revealed, verdict, winner, export], **PRIVATE)
    train_votes.click(partial(train_on_votes, lab), run, started, **PRIVATE)
    redraw(relabel, [blind, swap, revealed, winner, against], [left, right, verdict])
    redraw(lambda rid, other: gr.update(choices=against_choices(lab, rid), value=other), [run, against], against)
    picker.started = started
    return picker


def train_on_votes(lab: Lab, rid: str) -> str:
    """Start a preference run on the run's votes; its id goes to the page's current run (the Train tab shows it)."""
    try:
        new = lab.train_on_votes(rid)
    except Exception as exc:  # noqa: BLE001 - shown to the user, the app goes on
        raise gr.Error(str(exc), title=t("banner.problem")) from None
    gr.Info(t("chat.votes_started", run=new, source=rid))
    return new
