"""Real-browser test in 简体中文 of a classifier's run on an app of its own (a plot keeps the series names it first
drew, so a page that opened on another task's run would show that run's legend: known and open): its Train tab
draws its own metrics and no BLEU, and Compare, Results and Export stay on it while a newer run appears."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import TRAIN_TIMEOUT_MS, Page, expect, page, start_on
from conftest import launch_app, stop_app
from test_browser_current import newer_run, next_steps_stay_on

from ftlab import i18n

__all__ = ["page"]  # the fixture, imported for pytest
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zh-classifier-home")


@pytest.fixture(scope="module")
def app_url(app_home):
    proc, url = launch_app(app_home)
    yield url
    stop_app(proc)


def test_in_chinese_a_classifier_draws_its_own_metrics_and_stays_current(page: Page, app_url: str, tiny_bert: Path,
                                                                         tiny_llama: Path, app_home: Path,
                                                                         monkeypatch):
    page.goto(app_url + "?lang=zh")
    start_on(page, "sentiment: ", tiny_bert)
    progress = page.locator("#progress")
    expect(progress).to_contain_text("已完成", timeout=TRAIN_TIMEOUT_MS)
    run_id = progress.locator("code").first.inner_text()
    plot = page.locator("#eval-plot")
    expect(page.locator("#eval-title")).to_have_text(i18n.t("dash.eval_title_classify", "zh"))
    expect(plot).to_contain_text("accuracy")
    expect(plot).to_contain_text("指标")  # the legend's title in Chinese (metric names read the same everywhere)
    expect(plot).not_to_contain_text("BLEU")
    expect(page.locator("#probes")).to_contain_text(i18n.t("dash.col_prompt", "zh"))

    monkeypatch.setenv("FTLAB_HOME", str(app_home))  # a newer run, of the other task, appears meanwhile
    newer_run("chat", tiny_llama, run_id)
    next_steps_stay_on(page, run_id, "classify-run", "准确率")
    page.locator("#next-export").click()
    expect(page.locator("#export-run input[role=combobox]")).to_have_value(run_id)


