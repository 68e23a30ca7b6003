"""Shared Playwright helpers for the real-browser tests: a headless Debian Chromium page on the running app
(the `app_url` fixture) and small actions on Gradio components, found by their elem_id."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from ftlab import i18n

sync_api = pytest.importorskip("playwright.sync_api")
Page, expect = sync_api.Page, sync_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP_TIMEOUT_MS = 30_000
TRAIN_TIMEOUT_MS = 120_000
REPLY_TIMEOUT_MS = 90_000
IDLE = re.compile(r"\bhide\b")  # the class Gradio's status tracker has when no event is pending for a component


@pytest.fixture
def page(app_url):
    """A fresh Chromium page on the app's front page."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        expect.set_options(timeout=STEP_TIMEOUT_MS)
        page.goto(app_url)
        yield page
        browser.close()


def open_tab(page: Page, step: str, lang: str = "en") -> None:
    """Open the tab of a step (data, model, train, compare, results, export, runs) by its name in `lang`."""
    tab = page.get_by_role("tab", name=i18n.texts(f"tab.{step}", lang)["label"], exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")


def choose(page: Page, elem_id: str, option: re.Pattern) -> None:
    """Pick an option of a Gradio Dropdown: open its combobox, click the option (its own: another dropdown's
    list, redrawn by an update, may still be open with the same names)."""
    page.locator(f"#{elem_id} input[role=combobox]").click()
    page.locator(f"#{elem_id}").get_by_role("option", name=option).click()


def wait_idle(page: Page, elem_id: str, timeout: int = STEP_TIMEOUT_MS) -> None:
    """Wait until no event is pending that writes to the component `elem_id`."""
    expect(page.locator(f"#{elem_id} [data-testid=status-tracker]").first).to_have_class(IDLE, timeout=timeout)


def make_zip(page: Page) -> None:
    """Press "Make zip" once the Export tab's change events have ended (a run chosen: its formats; a run or format
    chosen: the zip made before cleared): pressed earlier, its message is cleared as it arrives."""
    for elem_id in ("export-format", "export-result"):
        wait_idle(page, elem_id)
    page.locator("#export-zip").click()


def on_model_tab(page: Page, sample: str, model: Path) -> None:
    """From the Data tab: pick a bundled `sample` and go on to the Model tab with `model` (a folder) filled in and
    the settings chosen for it in their fields (what Start trains is then known, not a race with the suggestion)."""
    choose(page, "sample", re.compile(rf"^{sample}"))
    # Next sends the data the page holds when it is pressed: before the sample is loaded, that is none (a warning)
    expect(page.locator("#data-summary")).to_contain_text(re.match(r"\w+", sample).group())
    wait_idle(page, "data-summary")
    page.locator("#next-model").click()
    expect(page.locator("#tab-model")).to_be_visible()
    wait_idle(page, "model")
    box = page.locator("#model").get_by_role("textbox")
    box.fill(str(model))
    box.press("Tab")  # leaving the box asks for the settings chosen for this model
    expect(page.locator("#defaults-why")).to_contain_text(model.name)  # the title names the model it is for


def start_on(page: Page, sample: str, model: Path) -> None:
    """From the Data tab: pick a bundled `sample`, train `model` (a folder) on it with the defaults: Start."""
    on_model_tab(page, sample, model)
    page.locator("#next-train").click()
    page.locator("#start").click()


def fill_number(page: Page, label: str, value: str) -> None:
    box = page.get_by_role("spinbutton", name=label)  # get_by_label also matches the plots' SVG titles
    box.fill(value)
    expect(box).to_have_value(value)


def shot(page: Page, path: Path) -> None:
    """A full-page screenshot; also kept under $FTLAB_SCREENSHOTS when set (the README's pictures come from there)."""
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")
    keep = os.environ.get("FTLAB_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(keep) / path.name, full_page=False)


def started(page: Page, app_home: Path) -> str:
    """Press Start and wait until the Train tab shows the run it queued (not the app's latest run the page showed
    before): its id, one the app's runs folder did not hold before."""
    before = set(os.listdir(app_home / "runs")) if (app_home / "runs").is_dir() else set()
    page.locator("#start").click()
    shown = page.locator("#progress code").first
    deadline = time.time() + REPLY_TIMEOUT_MS / 1000
    while time.time() < deadline:
        run_id = shown.inner_text() if shown.count() else ""
        if run_id and run_id not in before:
            return run_id
        page.wait_for_timeout(250)
    raise AssertionError(f"no new run shown; the page shows {run_id!r}")
