"""Real-browser end-to-end test: pick a sample, train a tiny model, then chat with base and tuned side by side.

Drives the real app (`python app.py`, started by the `app_url` fixture) in headless Debian Chromium through
Playwright's sync API. Everything stays offline: the base model is the 2-layer `tiny_llama` fixture, trained for
one epoch with a high learning rate so the run takes about a minute on a small CPU.
"""

from __future__ import annotations

import re
from pathlib import Path

from browser import (REPLY_TIMEOUT_MS, TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, open_tab, page, shot,
                     wait_idle)

__all__ = ["page"]  # the fixture, imported for pytest


def test_browser_pick_sample_train_and_chat_side_by_side(page: Page, tiny_llama: Path, tmp_path: Path):
    # 1. Data: the sample's detected format is shown.
    choose(page, "sample", re.compile(r"^pirate_chat: "))
    expect(page.locator("#data-summary")).to_contain_text(re.compile(r"pirate_chat\.jsonl.*\d+ rows, format messages"))
    shot(page, tmp_path / "data.png")

    # 2. Train. Picking data resets the train settings to the task's defaults; that update is sent before the
    # summary shows, so wait for it to land before typing ours over it.
    open_tab(page, "2. Train")
    wait_idle(page, "model")
    model = page.locator("#model").get_by_role("textbox")
    model.fill(str(tiny_llama))
    expect(model).to_have_value(str(tiny_llama))
    fill_number(page, "Epochs", "1")
    fill_number(page, "Learning rate", "0.005")
    page.locator("#start").click()

    progress = page.locator("#progress")
    expect(progress).to_contain_text(re.compile(r"Run \S+: (queued|running|completed)"))
    run_id = progress.locator("code").first.inner_text()

    # A reload mid-run reattaches to the job the server holds.
    page.reload()
    open_tab(page, "2. Train")
    expect(progress).to_contain_text(run_id)
    expect(progress).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)
    page.get_by_role("button", name="All runs").click()
    expect(page.locator("#runs-table")).to_contain_text(run_id)
    plot = page.locator("#loss-plot .vega-embed svg")
    expect(plot).to_be_visible()
    expect(plot.locator(".mark-line path").first).to_be_attached()  # at least one loss curve is drawn
    shot(page, tmp_path / "training_done.png")

    # 3. Chat: the tab selects the newest run; send only once the selection has reached the page.
    open_tab(page, "3. Chat")
    expect(page.locator("#chat-run input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    page.locator("#chat-input").get_by_role("textbox").fill("Who are you?")
    page.locator("#chat-send").click()

    base_bot = page.locator("#base-chat [data-testid=bot]")
    tuned_bot = page.locator("#tuned-chat [data-testid=bot]")
    expect(base_bot).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    expect(tuned_bot).to_have_count(1, timeout=REPLY_TIMEOUT_MS)
    wait_idle(page, "base-chat", timeout=REPLY_TIMEOUT_MS)
    wait_idle(page, "tuned-chat", timeout=REPLY_TIMEOUT_MS)
    for pane in ("base-chat", "tuned-chat"):
        expect(page.locator(f"#{pane} [data-testid=user]")).to_have_text("Who are you?")
    # The tiny model's base reply may be only whitespace; the tuned one must say something, from the run.
    expect(tuned_bot).to_have_text(re.compile(r"\S"))
    expect(tuned_bot).not_to_contain_text("pick a fine-tuned run")
    shot(page, tmp_path / "chat.png")

    # Regenerate answers the same message again (one exchange per pane, not two).
    page.locator("#chat-regenerate").click()
    wait_idle(page, "tuned-chat", timeout=REPLY_TIMEOUT_MS)
    expect(tuned_bot).to_have_count(1)

    # Blind A/B: the panes are named A and B until the vote, which is kept and exported as a preference pair.
    page.locator("#blind").get_by_role("checkbox").check()
    expect(base_bot).to_have_count(0)  # a fresh conversation
    page.locator("#chat-input").get_by_role("textbox").fill("Where is the treasure?")
    page.locator("#chat-send").click()
    wait_idle(page, "base-chat", timeout=REPLY_TIMEOUT_MS)
    wait_idle(page, "tuned-chat", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#base-chat")).to_contain_text("Model A")
    expect(page.locator("#tuned-chat")).to_contain_text("Model B")
    page.locator("#vote-0").click()  # "A is better"
    expect(page.locator("#vote-result")).to_contain_text(re.compile(r"Recorded: \w+ wins"))
    expect(page.locator("#base-chat")).to_contain_text(re.compile(r"Model A: (base|tuned)"))
    with page.expect_download() as download:
        page.locator("#votes-export").click()
    pair = download.value.path().read_text().strip()
    assert '"chosen"' in pair and '"rejected"' in pair and "Where is the treasure?" in pair
