"""Real-browser end-to-end test of the guided flow in English: pick a sample, go step by step with the Next
buttons, train a tiny model, chat with base and tuned side by side, read the results and export the adapter.

Drives the real app (`python app.py`, started by the `app_url` fixture) in headless Debian Chromium through
Playwright's sync API. Everything stays offline: the base model is the 2-layer `tiny_llama` fixture, trained for
one epoch with a high learning rate so the run takes about a minute on a small CPU. The Chinese flow, on a
classifier, is tests/test_browser_zh.py. With FTLAB_SCREENSHOTS=assets/screenshots the README's pictures are
taken from here.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from browser import (REPLY_TIMEOUT_MS, TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, make_zip, open_tab, page,
                     shot, wait_idle)

__all__ = ["page"]  # the fixture, imported for pytest


def test_guided_flow_in_english_sample_train_compare_results_export(page: Page, tiny_llama: Path, tmp_path: Path):
    expect(page.locator("#intro")).to_contain_text("fine-tune a model, then see whether it changed")
    # 1. Data: the sample's detected format is shown.
    choose(page, "sample", re.compile(r"^pirate_chat: "))
    expect(page.locator("#data-summary")).to_contain_text(re.compile(r"pirate_chat\.jsonl.*\d+ rows, format messages"))
    shot(page, tmp_path / "1-data.png")

    # 2. Model & method, reached with Next. Picking data resets the settings to the task's defaults; that update is
    # sent before the summary shows, so wait for it to land before typing ours over it.
    page.locator("#next-model").click()
    expect(page.get_by_role("tab", name="2. Model & method")).to_have_attribute("aria-selected", "true")
    wait_idle(page, "model")
    model = page.locator("#model").get_by_role("textbox")
    model.fill(str(tiny_llama))
    expect(model).to_have_value(str(tiny_llama))
    fill_number(page, "Epochs", "1")
    fill_number(page, "Learning rate", "0.005")
    expect(page.locator("#method-help")).to_contain_text("low-rank")  # the chosen method, explained
    shot(page, tmp_path / "2-model.png")

    # 3. Train: the page says what Start will train, then shows it live.
    page.locator("#next-train").click()
    expect(page.get_by_role("tab", name="3. Train")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#train-summary")).to_contain_text(re.compile(r"Start trains .*tiny-llama.* with LoRA on "
                                                                      r"pirate_chat"))
    progress = page.locator("#progress")
    shown = progress.locator("code").first
    before = shown.inner_text() if shown.count() else ""  # the page shows the app's latest run, if any, at first
    page.locator("#start").click()
    expect(shown).not_to_have_text(before or "-")
    expect(progress).to_contain_text(re.compile(r"Run \S+: (queued|running|completed)"))
    run_id = shown.inner_text()

    # A reload mid-run reattaches to the job the server holds.
    page.reload()
    open_tab(page, "train")
    expect(progress).to_contain_text(run_id)
    expect(progress).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)
    page.get_by_role("button", name="All runs").click()
    expect(page.locator("#runs-table")).to_contain_text(run_id)
    plot = page.locator("#loss-plot .vega-embed svg")
    expect(plot).to_be_visible()
    expect(plot.locator(".mark-line path").first).to_be_attached()  # at least one loss curve is drawn
    shot(page, tmp_path / "3-train.png")

    # 4. Compare: a finished run offers the next step; the chat panel selects the newest run; send only once the
    # selection has reached the page.
    page.locator("#to-compare").click()
    expect(page.get_by_role("tab", name="4. Compare")).to_have_attribute("aria-selected", "true")
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
    shot(page, tmp_path / "4-compare.png")

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

    # 5. Results: the run just trained is the one shown, base vs tuned on its validation rows.
    page.locator("#next-results").click()
    expect(page.locator("#results-run input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    expect(page.locator("#results-summary")).to_contain_text(re.compile(r"Base vs tuned on \*?\*?\d+"))
    expect(page.locator("#results-metrics")).to_contain_text("perplexity")
    shot(page, tmp_path / "5-results.png")

    # 6. Export: the same run, as an adapter zip that holds safetensors weights and the model card.
    page.locator("#next-export").click()
    expect(page.locator("#export-run input[role=combobox]")).to_have_value(run_id)
    make_zip(page)
    expect(page.locator("#export-result")).to_contain_text("Ready")
    with page.expect_download() as download:
        page.locator("#export-download").click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert any(n.endswith("adapter_model.safetensors") for n in names) and any(n.endswith("README.md") for n in names)
    shot(page, tmp_path / "6-export.png")
