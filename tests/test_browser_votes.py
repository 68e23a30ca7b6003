"""The loop from the blind A/B in a real browser: train a chat run, vote on a few blind answers in Compare, press
"Train on these votes", watch the preference run it starts complete on the Train tab (which names the run and the
votes it goes on from), and compare the new run with its base, then blind with the SFT run it went on from.

Drives the real app in headless Chromium (tests/browser.py); the models are the 2-layer `tiny_llama` fixture, so
the answers are noise: what is checked is the flow, not what the model learned (tests/test_preference.py and the
RESULTS benchmark measure that)."""

from __future__ import annotations

import re
from pathlib import Path

from browser import (REPLY_TIMEOUT_MS, TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, on_model_tab, page,
                     started, wait_idle)

__all__ = ["page"]  # the fixture, imported for pytest


def blind_exchange(page: Page, text: str) -> None:
    page.locator("#chat-input").get_by_role("textbox").fill(text)
    page.locator("#chat-send").click()
    wait_idle(page, "base-chat", timeout=REPLY_TIMEOUT_MS)
    wait_idle(page, "tuned-chat", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#base-chat")).to_contain_text("Model A")


def test_votes_in_the_blind_ab_start_a_preference_run_that_completes_and_compares(page: Page, tiny_llama: Path,
                                                                                 app_home: Path):
    # A chat run to vote on.
    on_model_tab(page, "pirate_chat", tiny_llama)
    fill_number(page, "Epochs", "1")
    fill_number(page, "Learning rate", "0.005")
    page.locator("#next-train").click()
    progress = page.locator("#progress")
    sft = started(page, app_home)
    expect(progress).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)

    # Compare, blind: vote on three exchanges.
    page.locator("#to-compare").click()
    expect(page.locator("#chat-run input[role=combobox]")).to_have_value(re.compile(re.escape(sft)))
    page.locator("#blind").get_by_role("checkbox").check()
    for i, side in enumerate(("#vote-0", "#vote-1", "#vote-0")):
        if i:
            page.locator("#chat-clear").click()
        blind_exchange(page, f"Where is treasure number {i}?")
        page.locator(side).click()
        expect(page.locator("#vote-result")).to_contain_text(re.compile(r"Recorded: \w+ wins"))

    # The loop: one button starts a preference run on those votes; the Train tab shows it to the end.
    page.locator("#train-on-votes").click()
    expect(page.get_by_role("tab", name="3. Train")).to_have_attribute("aria-selected", "true")
    expect(progress).to_contain_text(re.compile(r"Run \S+-preference-lora"), timeout=REPLY_TIMEOUT_MS)
    expect(progress).to_contain_text(f"Goes on from run {sft}, trained on votes-of-{sft}-3.jsonl")
    expect(progress).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)
    preference = progress.locator("code").first.inner_text()
    assert preference != sft and "preference" in preference

    # Compare the preference-tuned run with its base: it is listed with the chat runs and answers.
    page.locator("#to-compare").click()
    expect(page.locator("#chat-run input[role=combobox]")).to_have_value(re.compile(re.escape(preference)))
    page.locator("#blind").get_by_role("checkbox").uncheck()
    page.locator("#chat-input").get_by_role("textbox").fill("Who are you?")
    page.locator("#chat-send").click()
    tuned_bot = page.locator("#tuned-chat [data-testid=bot]")
    expect(tuned_bot).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    wait_idle(page, "tuned-chat", timeout=REPLY_TIMEOUT_MS)
    expect(tuned_bot).not_to_contain_text("pick a fine-tuned run")

    # The SFT run it went on from, next to it, blind: any two of base / SFT / preference-tuned face each other.
    choose(page, "chat-against", re.compile(re.escape(sft)))
    expect(page.locator("#base-chat")).to_contain_text(f"Run {sft}")
    page.locator("#blind").get_by_role("checkbox").check()
    blind_exchange(page, "Which way to the island?")
    page.locator("#vote-0").click()
    expect(page.locator("#vote-result")).to_contain_text(re.compile(rf"Recorded: (run {re.escape(sft)}|tuned) wins"))
    expect(page.locator("#base-chat, #tuned-chat").filter(has_text=f"run {sft}")).to_have_count(1)


def test_the_preference_sample_previews_pairs_trains_and_shows_its_pairs_in_results(page: Page, tiny_llama: Path,
                                                                                    app_home: Path):
    """The bundled pairs in the guided flow: the Data tab previews prompt / chosen / rejected, the Model tab
    switches to the preference task with its own settings in view, and Results list the held-out pairs."""
    choose(page, "sample", re.compile(r"^concise_pairs"))
    expect(page.locator("#data-summary")).to_contain_text("format preference")
    for header in ("prompt", "chosen ✓", "rejected ✗"):
        expect(page.get_by_role("columnheader", name=header)).to_be_visible()
    page.locator("#next-model").click()
    wait_idle(page, "model")
    expect(page.locator("#task").get_by_role("radio", name=re.compile("^Preference"))).to_be_checked()
    page.locator("#model").get_by_role("textbox").fill(str(tiny_llama))
    fill_number(page, "Epochs", "0.1")
    page.locator("#advanced").get_by_text(re.compile("^Advanced")).first.click()
    expect(page.locator("#preference-loss input[role=combobox]")).to_have_value("orpo")
    page.locator("#next-train").click()
    progress = page.locator("#progress")
    run_id = started(page, app_home)
    assert run_id.endswith("-preference-lora")
    expect(progress).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)
    page.locator("#to-compare").click()
    page.locator("#next-results").click()
    expect(page.locator("#results-run input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    expect(page.locator("#results-metrics")).to_contain_text("preference accuracy")
    expect(page.locator("#results-rows")).to_contain_text("tuned margin")
