"""Real-browser tests of the Data tab: every malformed file of the corpus is explained on the page and the app
keeps working; a file with unfamiliar column names is mapped by hand, given a validation file, and trained, and
the run's config remembers the mapping."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from browser import TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, open_tab, page, wait_idle
from test_malformed import CASES, CORPUS

from ftlab.app.ui.data_tab import FILE_TYPES

ACCEPTED = tuple(FILE_TYPES)
__all__ = ["page"]  # the fixture, imported for pytest


def upload(page: Page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def clear_upload(page: Page) -> None:
    page.locator("#upload button[aria-label='Clear']").click()
    expect(page.locator("#data-summary")).to_have_text("No dataset chosen yet.")


def test_every_malformed_file_is_explained_on_the_page_and_the_app_keeps_working(page: Page, tmp_path: Path):
    summary = page.locator("#data-summary")
    for name, fragments in CASES:
        upload(page, "upload", CORPUS / name)
        if not name.endswith(ACCEPTED):  # the page itself refuses the file, naming it
            expect(page.get_by_text(f"Invalid file type: {name}")).to_be_visible()
            continue
        expect(summary).to_contain_text("can't be used", ignore_case=True)
        expect(summary).to_contain_text(name)
        text = summary.inner_text().lower()
        for fragment in fragments:  # markdown shows `field` as code: compare without the backticks
            assert fragment.replace("`", "").lower() in text, (name, fragment, text)
        clear_upload(page)
    good = tmp_path / "fine.csv"
    good.write_text("text,label\ngreat,pos\nawful,neg\n")
    upload(page, "upload", good)
    expect(summary).to_contain_text(re.compile(r"fine\.csv.*2 rows, format classification"))
    choose(page, "sample", re.compile(r"^pirate_chat"))  # a sample after an upload: one dataset on the page
    expect(summary).to_contain_text("pirate_chat")
    expect(page.locator("#upload")).not_to_contain_text("fine.csv")
    expect(summary).not_to_contain_text("fine.csv")


def test_columns_mapped_by_hand_with_a_validation_file_reach_the_run_config(page: Page, tiny_bert: Path,
                                                                            tmp_path: Path, app_home: Path):
    rows = "".join(f"{'lovely' if i % 2 else 'dreadful'} visit number {i},{'up' if i % 2 else 'down'}\n"
                   for i in range(16))
    (tmp_path / "visits.csv").write_text("notes,verdict\n" + rows)
    (tmp_path / "held.csv").write_text("notes,verdict\nlovely again,up\ndreadful again,down\n")
    summary = page.locator("#data-summary")
    upload(page, "upload", tmp_path / "visits.csv")
    expect(summary).to_contain_text("columns found: notes, verdict")

    expect(summary).to_contain_text("Map the file's columns under Format, columns and validation file")
    expect(page.locator("#format")).to_be_visible()  # the panel opened itself
    choose(page, "format", re.compile(r"^classification"))
    expect(summary).to_contain_text("format classification needs `text`, `label`".replace("`", ""))
    choose(page, "col-text", re.compile(r"^notes$"))
    wait_idle(page, "data-summary")
    choose(page, "col-label", re.compile(r"^verdict$"))
    expect(summary).to_contain_text(re.compile(r"visits\.csv.*16 rows, format classification"))
    upload(page, "val-upload", tmp_path / "held.csv")
    expect(summary).to_contain_text(re.compile(r"Validation file: held\.csv.*2 rows"))

    open_tab(page, "model")
    wait_idle(page, "model")
    page.locator("#model").get_by_role("textbox").fill(str(tiny_bert))
    fill_number(page, "Epochs", "1")
    open_tab(page, "train")
    progress = page.locator("#progress")
    shown = progress.locator("code").first
    before = shown.inner_text() if shown.count() else ""  # the page may show an earlier run at first
    page.locator("#start").click()
    expect(shown).not_to_have_text(before or "-")
    run_id = shown.inner_text()
    expect(progress).to_contain_text("completed", timeout=TRAIN_TIMEOUT_MS)
    config = yaml.safe_load((app_home / "runs" / run_id / "config.yaml").read_text())
    assert config["data"]["format"] == "classification"
    assert config["data"]["columns"] == {"text": "notes", "label": "verdict"}
    assert config["data"]["val_path"].endswith("/held.csv")
    status = yaml.safe_load((app_home / "runs" / run_id / "status.json").read_text())
    assert (status["n_train"], status["n_val"]) == (16, 2)
