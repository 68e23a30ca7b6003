"""The Export tab deploys a chat run in a real browser: GGUF q8_0 in the format list, a zip with the GGUF, the Ollama
Modelfile and the README, and "Measure the formats" putting each format's size, speed and perplexity in a table.
Drives the real app in headless Chromium; the model is the 2-layer `tiny_llama` fixture."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from browser import TRAIN_TIMEOUT_MS, Page, choose, expect, make_zip, on_model_tab, page, started

__all__ = ["page"]  # the fixture, imported for pytest
pytestmark = pytest.mark.slow


def test_a_chat_run_exports_as_gguf_with_a_modelfile_and_its_formats_are_measured(page: Page, tiny_llama: Path,
                                                                                   app_home: Path):
    on_model_tab(page, "pirate_chat", tiny_llama)
    page.locator("#next-train").click()
    run_id = started(page, app_home)  # its own run: in the shared app others have run before
    expect(page.locator("#progress")).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)
    page.locator("#to-compare").click()
    page.get_by_role("tab", name="6. Export").click()
    expect(page.locator("#export-run input[role=combobox]")).to_have_value(run_id)
    choose(page, "export-format", re.compile(r"^GGUF q8_0"))
    expect(page.locator("#export-merge")).to_be_hidden()  # merging is what GGUF does anyway
    make_zip(page)
    expect(page.locator("#export-result")).to_contain_text(f"{run_id}-gguf-q8_0.zip", timeout=TRAIN_TIMEOUT_MS)
    with page.expect_download() as download:
        page.locator("#export-download").click()
    names = set(zipfile.ZipFile(download.value.path()).namelist())
    assert names == {f"{run_id}-q8_0.gguf", "Modelfile", "README.md"}
    page.locator("#export-measure").click()
    table = page.locator("#export-costs")
    for row in ("safetensors (not exported)", "GGUF f16", "GGUF q8_0", "GGUF q4_k_m"):
        expect(table).to_contain_text(row, timeout=TRAIN_TIMEOUT_MS * 2)
    expect(table).to_contain_text("perplexity")
    expect(table).to_contain_text("tokens/s")
