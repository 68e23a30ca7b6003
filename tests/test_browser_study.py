"""Defaults and auto-tune in a real browser: the Model tab fills in the settings chosen for the data with a reason
each (a number the person typed stays theirs); Auto-tune in the Train tab starts a study, the Auto-tune tab shows
its trials, their curves and the best trial, and one click compares that trial with its base.
Drives the real app in headless Chromium; the model is the 2-layer `tiny_llama` fixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gradio_client import Client
from browser import TRAIN_TIMEOUT_MS, Page, expect, on_model_tab, page, wait_idle

__all__ = ["page"]  # the fixture, imported for pytest
pytestmark = pytest.mark.slow


def test_defaults_are_explained_and_auto_tune_finds_a_best_trial_to_compare(page: Page, tiny_llama: Path, app_url):
    on_model_tab(page, "pirate_chat", tiny_llama)
    page.locator("#model").get_by_role("textbox").press("Enter")
    why = page.locator("#defaults-why")
    expect(why).to_contain_text("epochs: 144 rows make 36 steps an epoch")  # 160 pirate chats, 16 held out
    expect(why).to_contain_text("LoRA rank 8")
    epochs = page.locator("#epochs input")
    expect(epochs).to_have_value("5")
    epochs.fill("1")  # the person's own number stays theirs when the method changes
    epochs.press("Tab")
    page.get_by_role("radio", name="DoRA").check()
    expect(why).to_contain_text("yours (suggested 5")
    expect(epochs).to_have_value("1")
    page.locator("#max-length input").fill("64")
    page.locator("#max-length input").press("Tab")
    page.locator("#next-train").click()
    page.locator("#auto-trials input").fill("2")
    page.locator("#auto-minutes input").fill("0")
    page.locator("#auto-tune").click()
    expect(page.get_by_role("tab", name="Auto-tune")).to_have_attribute("aria-selected", "true")
    summary = page.locator("#study-summary")
    expect(summary).to_contain_text(re.compile(r"^\s*done ·"), timeout=TRAIN_TIMEOUT_MS * 3)  # the study's state
    expect(summary).to_contain_text("2 of 2 trials done")
    expect(summary).to_contain_text("Best: trial")
    study_id = page.locator("#study-pick input[role=combobox]").input_value().split(" ")[0]
    found = Client(app_url, verbose=False).predict(study_id, api_name="/study")
    assert found["base"]["method"] == "dora"  # what the Model tab had
    table = page.locator("#study-trials")
    for trial in found["trials"]:  # every trial a row: its run
        expect(table).to_contain_text(trial["run_id"])
    assert len(found["trials"]) == 2
    expect(page.locator("#study-curves")).to_contain_text("trial")
    best_run = summary.inner_text().split("(run ")[1].split(")")[0]
    page.locator("#study-compare").click()
    expect(page.get_by_role("tab", name="4. Compare")).to_have_attribute("aria-selected", "true")
    wait_idle(page, "chat-run")
    expect(page.locator("#chat-run input[role=combobox]")).to_have_value(re.compile(rf"^{re.escape(best_run)} "))
