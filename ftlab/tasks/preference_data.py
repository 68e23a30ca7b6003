"""Preference data: the formats a preference run reads, their checks, and each row as a conversation with its
replies.

Paired (DPO, IPO, ORPO; KTO too, each pair read as one desirable and one undesirable reply):
- `preference`: `prompt` (a text, or an OpenAI `messages` list for a multi-turn prompt), `chosen`, `rejected`
  (texts, an assistant turn, or a list of turns whose last is the reply: TRL's conversational layout); ftlab's own
  A/B vote export writes this.
- `preference_sharegpt`: LLaMA-Factory's layout (`conversations` of {from, value}, `chosen` and `rejected` turns,
  as in its dpo_en_demo.json).
- `preference_alpaca`: LLaMA-Factory's alpaca layout with `chosen` / `rejected` in place of `output`.
Unpaired (KTO): `kto`: `prompt`, `completion` and a `label` saying whether the completion is desirable (true /
false, 1 / 0, yes / no, up / down).
"""

from __future__ import annotations

from ftlab.data.formats import SHAREGPT_ROLES, Format, check_history, check_turns
from ftlab.data.readers import Problem, Where

YES, NO = {"true", "1", "yes", "y", "up", "good", "desirable"}, {"false", "0", "no", "n", "down", "bad", "undesirable"}


def desirable(value) -> bool | None:
    """A KTO label as True (desirable) or False, or None when it says neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in YES else False if text in NO else None


def reply_text(value) -> str | None:
    """The reply a `chosen` / `rejected` field holds: a text, one turn ({role, content} or {from, value}), or a
    list of turns whose last is the assistant's (TRL's conversational layout); None when it holds none."""
    if isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, dict):
        role = value.get("role", SHAREGPT_ROLES.get(value.get("from")))
        value = value.get("content", value.get("value")) if role == "assistant" else None
    return value if isinstance(value, str) else None


def prompt_messages(fmt: str, row: dict) -> list[dict]:
    """The conversation a row's replies answer, as {role, content} turns (system first when the row has one)."""
    system = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    if fmt == "preference_sharegpt":
        return system + [{"role": SHAREGPT_ROLES[t["from"]], "content": t["value"]} for t in row["conversations"]]
    if fmt == "preference_alpaca":
        history = [{"role": role, "content": text} for pair in row.get("history") or []
                   for role, text in zip(("user", "assistant"), pair)]
        text = row["instruction"] + (f"\n\n{row['input']}" if str(row.get("input") or "").strip() else "")
        return system + history + [{"role": "user", "content": text}]
    prompt = row["prompt"]
    if isinstance(prompt, list):
        return ([] if any(t.get("role") == "system" for t in prompt) else system) + [
            {"role": t["role"], "content": t["content"]} for t in prompt]
    return system + [{"role": "user", "content": prompt}]


def replies(fmt: str, row: dict) -> list[tuple[str, bool]]:
    """A row's replies with whether each is the desirable one: (chosen, True), (rejected, False); or KTO's one."""
    if fmt == "kto":
        return [(row["completion"], desirable(row["label"]))]
    return [(reply_text(row["chosen"]), True), (reply_text(row["rejected"]), False)]


def _check_prompt(fmt: str, row: dict, where: Where) -> list[str]:
    if fmt == "preference_sharegpt":
        problems = [p for p in check_turns("sharegpt", {"conversations": row["conversations"]}, where)
                    if p.code != "no_assistant_turn"]  # the replies are the assistant's
    elif fmt == "preference_alpaca":
        problems = check_history(row.get("history"), where)
    elif isinstance(row["prompt"], list):
        problems = [p for p in check_turns("messages", {"messages": row["prompt"]}, where.at("prompt"))
                    if p.code != "no_assistant_turn"]
    elif not isinstance(row["prompt"], str):
        return [Problem("not_text", where.at("prompt"), f"expected text or a list of turns, got "
                        f"{type(row['prompt']).__name__}", got=type(row["prompt"]).__name__)]
    else:
        problems = []
    if not problems and not any(t["role"] == "user" and t["content"].strip() for t in prompt_messages(fmt, row)):
        problems.append(Problem("no_user_turn", where, "the prompt has no user turn to answer"))
    return problems


def check_pair(fmt: str):
    """The row check of a paired format: a prompt with a user turn, two replies, not the same."""
    def check(row: dict, where: Where) -> list[str]:
        problems = _check_prompt(fmt, row, where)
        texts = {}
        for side in ("chosen", "rejected"):
            texts[side] = reply_text(row[side])
            if texts[side] is None:
                problems.append(Problem("not_reply", where.at(side), "expected the reply: a text or an assistant "
                                        "turn"))
            elif not texts[side].strip():
                problems.append(Problem("missing_field", where.at(side), "missing or empty"))
        if texts["chosen"] and texts["chosen"].strip() == (texts["rejected"] or "").strip():
            problems.append(Problem("same_reply", where, "`chosen` and `rejected` are the same reply: there is no "
                                    "preference to learn"))
        return problems
    return check


def check_kto(row: dict, where: Where) -> list[str]:
    problems = _check_prompt("kto", row, where)
    if not isinstance(row["completion"], str):
        problems.append(Problem("not_text", where.at("completion"), f"expected text, got "
                                f"{type(row['completion']).__name__}", got=type(row["completion"]).__name__))
    if desirable(row["label"]) is None:
        problems.append(Problem("not_desirable", where.at("label"), f"{row['label']!r} says neither desirable nor "
                                "not: use true or false", value=repr(row["label"])))
    return problems


def conversation(fmt: str):
    """row -> its prompt and the desirable reply (the chosen one), as the Insight panel shows a row."""
    def turns(row: dict) -> list[dict]:
        reply = next((text for text, wanted in replies(fmt, row) if wanted), None) or replies(fmt, row)[0][0]
        return prompt_messages(fmt, row) + [{"role": "assistant", "content": reply or ""}]
    return turns


def preview(fmt: str):
    """row -> [the last user turn, chosen, rejected] (KTO: [prompt, completion, 👍 or 👎])."""
    def cells(row: dict) -> list[str]:
        users = [m["content"] for m in prompt_messages(fmt, row) if m["role"] == "user"]
        sides = replies(fmt, row)
        if fmt == "kto":
            return [users[-1] if users else "", sides[0][0], "👍" if sides[0][1] else "👎"]
        return [users[-1] if users else "", sides[0][0] or "", sides[1][0] or ""]
    return cells


def _format(name: str, needed: tuple, optional: tuple, texts: tuple, reason: str, **more) -> Format:
    headers = ("prompt", "completion", "desirable") if name == "kto" else ("prompt", "chosen", "rejected")
    return Format(name, "preference", needed, optional, texts, reason, conversation=conversation(name),
                  preview=preview(name), headers=headers, **more)


FORMATS = (
    _format("preference", ("prompt", "chosen", "rejected"), ("system",), ("system",),
            "rows have `prompt`, `chosen` and `rejected`: preference pairs", check=check_pair("preference")),
    _format("preference_sharegpt", ("conversations", "chosen", "rejected"), ("system",), ("system",),
            "rows have `conversations` with `chosen` and `rejected` turns: preference pairs (LLaMA-Factory sharegpt)",
            check=check_pair("preference_sharegpt")),
    _format("preference_alpaca", ("instruction", "chosen", "rejected"), ("input", "system", "history"),
            ("instruction", "input", "system"),
            "rows have `instruction`, `chosen` and `rejected`: preference pairs (LLaMA-Factory alpaca)",
            check=check_pair("preference_alpaca")),
    _format("kto", ("prompt", "completion", "label"), ("system",), ("system",),
            "rows have `prompt`, `completion` and a desirable `label` (true / false): unpaired preferences (KTO)",
            classes=False, check=check_kto),
)
