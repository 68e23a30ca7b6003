"""Real-browser test of the Results and Runs tabs: two classification runs trained by the engine into the app's
home, then read in Chromium: the flips table, both confusion matrices, the overlay of both runs' curves and the
settings that differ between them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import Page, choose, expect, open_tab, page, shot

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir

__all__ = ["page"]  # the fixture, imported for pytest


@pytest.fixture
def two_runs(app_home, tiny_bert, monkeypatch) -> list[str]:
    monkeypatch.setenv("FTLAB_HOME", str(app_home))
    ids = []
    for lr in (5e-3, 1e-4):
        cfg = RunConfig(task="classify", model=str(tiny_bert), method="lora")
        cfg.data.path = "sentiment"
        cfg.train.max_steps, cfg.train.learning_rate = 4, lr
        run = RunDir.create(cfg)
        assert engine.run(cfg, run).state == "completed"
        ids.append(run.id)
    return ids


def test_results_tab_shows_flips_and_both_confusion_matrices_and_runs_tab_overlays_two_runs(
        page: Page, two_runs: list[str], tmp_path: Path):
    first, second = two_runs
    open_tab(page, "results")
    choose(page, "results-run", re.compile(re.escape(first)))
    expect(page.locator("#results-summary")).to_contain_text(re.compile(r"Base vs tuned on \*?\*?24"))
    expect(page.locator("#results-summary")).to_contain_text(re.compile(r"\d+ fixed.*\d+ broken.*\d+ unchanged"))
    metrics = page.locator("#results-metrics")
    for name in ("accuracy", "f1_macro", "delta"):
        expect(metrics).to_contain_text(name)
    rows = page.locator("#results-rows")
    expect(rows).to_contain_text("change")
    expect(rows).to_contain_text(re.compile(r"fixed|broken|unchanged"))
    for side in ("base", "tuned"):
        matrix = page.locator(f"#confusion-{side}")
        expect(matrix).to_contain_text("predicted negative")
        expect(matrix).to_contain_text("true positive")
    report = RunDir(first).read_json("report.json")
    a_positive = next(r["text"] for r in report["rows"] if r["label"] == "positive")
    expect(rows).to_contain_text(a_positive)
    page.locator("#flips-class").locator("input[role=combobox]").click()
    page.get_by_role("option", name="negative", exact=True).click()
    expect(rows).not_to_contain_text(a_positive)  # filtered by class
    page.locator("#flips-change").get_by_label("broken").check()
    expect(rows).not_to_contain_text("fixed")
    expect(page.locator("#results-download")).to_be_visible()
    shot(page, tmp_path / "results.png")

    open_tab(page, "runs")
    expect(page.locator("#runs-list")).to_contain_text(first)
    picker = page.locator("#compare-runs input[role=combobox]")
    for run_id in (first, second):
        picker.click()
        picker.fill(run_id)  # typing filters the options to this run
        page.get_by_role("option", name=re.compile(re.escape(run_id))).click()
        page.locator("#runs-list").click()  # closes the options
    diff = page.locator("#config-diff")
    expect(diff).to_contain_text("train.learning_rate")
    expect(diff).to_contain_text("0.005")
    plot = page.locator("#compare-plot")
    expect(plot).to_contain_text(f"{first} eval")
    expect(plot).to_contain_text(f"{second} eval")
    shot(page, tmp_path / "runs.png")

    # Delete the second run, after a confirmation: it leaves the list and its folder is gone.
    page.get_by_role("button", name="Delete a run").click()
    choose(page, "delete-run", re.compile(re.escape(second)))
    page.locator("#delete-ask").click()
    expect(page.locator("#delete-question")).to_contain_text(f"Delete run {second}")
    page.locator("#delete-yes").click()
    expect(page.locator("#runs-list")).not_to_contain_text(second)
    expect(page.locator("#runs-list")).to_contain_text(first)
    assert not RunDir(second).path.exists() and RunDir(first).exists()
