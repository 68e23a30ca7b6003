"""Real-browser test of the Train tab's controls: a preset fills the settings and the parameter / memory
estimate appears; a second start waits in the queue with its position and Cancel takes it out; the first run,
picked again, is stopped and saved, then resumed from its checkpoint."""

from __future__ import annotations

import re
from pathlib import Path

from browser import TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, open_tab, page, wait_idle

__all__ = ["page"]  # the fixture, imported for pytest


def start_run(page: Page) -> str:
    """Press Start and return the id of the run it shows (a different one from before)."""
    shown = page.locator("#progress code").first
    before = shown.inner_text() if shown.count() else ""
    page.locator("#start").click()
    expect(shown).not_to_have_text(before or "-")
    return shown.inner_text()


def test_preset_estimate_queue_cancel_stop_and_resume(page: Page, tiny_llama: Path):
    choose(page, "sample", re.compile(r"^pirate_chat: "))
    expect(page.locator("#data-summary")).to_contain_text("format messages")
    open_tab(page, "model")
    wait_idle(page, "model")
    page.locator("#model").get_by_role("textbox").fill(str(tiny_llama))
    choose(page, "preset", re.compile(r"^Quick demo"))
    plan = page.locator("#plan")
    expect(plan).to_contain_text(re.compile(r"Trains [\d,]+ of [\d,]+ parameters \([\d.]+ %\)"))
    expect(plan).to_contain_text("estimated memory")
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("1")
    page.get_by_label("Full fine-tuning").check()  # the estimate follows the method without a click
    expect(plan).to_contain_text("(100 %)")
    page.get_by_label("LoRA", exact=True).check()
    expect(plan).not_to_contain_text("(100 %)")

    # The suggestions each method change brings leave the preset's values: they are the person's choice.
    expect(page.get_by_role("spinbutton", name="Learning rate")).to_have_value("0.0003")
    expect(page.get_by_role("spinbutton", name="Epochs")).to_have_value("1")
    page.get_by_role("button", name="Advanced settings").click()
    expect(page.get_by_role("spinbutton", name="Max steps (0: use epochs)")).to_be_visible()
    fill_number(page, "Max steps (0: use epochs)", "3000")
    fill_number(page, "Checkpoint every N steps (0: at each eval)", "5")
    open_tab(page, "train")
    progress = page.locator("#progress")
    first = start_run(page)
    expect(progress).to_contain_text(re.compile(r"step [1-9]\d* / 3000"), timeout=TRAIN_TIMEOUT_MS)
    second = start_run(page)
    expect(progress).to_contain_text("queued (position 1 in the queue)")
    page.locator("#cancel").click()
    expect(progress).to_contain_text(f"{second}: cancelled")

    choose(page, "train-run", re.compile(re.escape(first)))
    expect(progress).to_contain_text(f"{first}: running")
    page.locator("#stop").click()
    expect(progress).to_contain_text(f"{first}: stopped", timeout=TRAIN_TIMEOUT_MS)
    expect(page.locator("#resume")).to_be_enabled()
    page.locator("#resume").click()
    expect(progress).to_contain_text(re.compile(r"resumed from step \d+"), timeout=TRAIN_TIMEOUT_MS)
    expect(progress).to_contain_text(f"{first}: running")
    page.locator("#stop").click()
    expect(progress).to_contain_text(f"{first}: stopped", timeout=TRAIN_TIMEOUT_MS)
