"""Real-browser test of the guided flow in 简体中文, on a classifier: the page opened with `?lang=zh` shows every
step in Chinese, and a new user goes Data -> Model & method -> Train -> Compare -> Results -> Export with the Next
buttons, seeing Chinese labels, help texts and messages on the way. Switching back to English relabels the page.

Offline and quick: the 2-layer `tiny_bert` fixture, fully fine-tuned for one epoch on the `sentiment` sample.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from browser import (TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, make_zip, open_tab, page, shot,
                     wait_idle)

from ftlab import i18n

__all__ = ["page"]  # the fixture, imported for pytest


def zh(key: str, prop: str | None = None, **fields) -> str:
    """The Chinese text of a key (a message, or a component's property)."""
    return i18n.texts(key, "zh")[prop] if prop else i18n.t(key, "zh", **fields)


def selected(page: Page, step: str):
    return expect(page.get_by_role("tab", name=zh(f"tab.{step}", "label"), exact=True))


def test_guided_flow_in_chinese_classifier_from_sample_to_export(page: Page, app_url: str, tiny_bert: Path,
                                                                 tmp_path: Path):
    page.goto(app_url + "?lang=zh")
    expect(page.locator("#intro")).to_contain_text("微调一个模型")
    selected(page, "data").to_have_attribute("aria-selected", "true")
    for step in ("model", "train", "compare", "results", "export"):  # every step is named in Chinese
        expect(page.get_by_role("tab", name=zh(f"tab.{step}", "label"), exact=True)).to_be_visible()

    # 1. 数据: Next and Start say in Chinese that data comes first, and the page stays where it is.
    page.locator("#next-model").click()
    expect(page.locator(".toast-body").first).to_contain_text(zh("train.no_data"))
    selected(page, "data").to_have_attribute("aria-selected", "true")
    open_tab(page, "train", "zh")
    expect(page.locator("#train-summary")).to_contain_text(zh("train.no_data"))
    page.locator("#start").click()
    expect(page.locator(".toast-body").last).to_contain_text(zh("train.no_data"))
    open_tab(page, "data", "zh")
    choose(page, "sample", re.compile(r"^sentiment"))
    expect(page.locator("#data-summary")).to_contain_text(re.compile(r"sentiment\.csv.*240 行"))
    shot(page, tmp_path / "zh-1-data.png")

    # 2. 模型与方法: the task followed the data; full fine-tuning of the tiny classifier, one epoch.
    page.locator("#next-model").click()
    selected(page, "model").to_have_attribute("aria-selected", "true")
    wait_idle(page, "model")
    expect(page.locator("#method-help")).to_contain_text(zh("method.lora.help"))  # drawn in Chinese from the start
    expect(page.locator("#task").get_by_label(zh("model.task", "choices")[1][0])).to_be_checked()  # 分类
    expect(page.locator("#model")).to_contain_text(zh("model.model", "info"))
    page.locator("#model").get_by_role("textbox").fill(str(tiny_bert))
    page.get_by_label(zh("model.method", "choices")[0][0], exact=True).check()  # 全参数微调
    expect(page.locator("#method-help")).to_contain_text(zh("method.full.help"))
    fill_number(page, zh("model.epochs", "label"), "1")
    expect(page.locator("#plan")).to_contain_text(re.compile(r"训练 [\d,]+ / 共 [\d,]+ 个参数"))
    shot(page, tmp_path / "zh-2-model.png")

    # 3. 训练
    page.locator("#next-train").click()
    selected(page, "train").to_have_attribute("aria-selected", "true")
    expect(page.locator("#train-summary")).to_contain_text("全参数微调")
    progress = page.locator("#progress")
    shown = progress.locator("code").first
    before = shown.inner_text() if shown.count() else ""  # the page shows the app's latest run, if any, at first
    page.locator("#start").click()
    expect(shown).not_to_have_text(before or "-")
    run_id = shown.inner_text()
    expect(progress).to_contain_text(zh("state.completed"), timeout=TRAIN_TIMEOUT_MS)
    expect(progress).to_contain_text("训练")
    shot(page, tmp_path / "zh-3-train.png")

    # 4. 对比: the classifier panel, on the run just trained.
    page.locator("#to-compare").click()
    selected(page, "compare").to_have_attribute("aria-selected", "true")
    expect(page.locator("#compare-kind")).to_contain_text(zh("compare.kind", "label"))
    expect(page.locator("#classify-run input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    page.locator("#classify-input textarea").fill("The soup was cold and the waiter ignored us.")
    page.locator("#classify-go").click()
    for side in ("base-label", "tuned-label"):
        expect(page.locator(f"#{side}")).to_contain_text(re.compile(r"positive|negative"))
    shot(page, tmp_path / "zh-4-compare.png")

    # 5. 评估结果
    page.locator("#next-results").click()
    selected(page, "results").to_have_attribute("aria-selected", "true")
    expect(page.locator("#results-run input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    expect(page.locator("#results-summary")).to_contain_text(re.compile(r"[\u4e00-\u9fff]"))
    expect(page.locator("#results-summary")).to_contain_text("24")  # the validation rows compared
    shot(page, tmp_path / "zh-5-results.png")

    # 6. 导出
    page.locator("#next-export").click()
    selected(page, "export").to_have_attribute("aria-selected", "true")
    expect(page.locator("#export-run input[role=combobox]")).to_have_value(run_id)
    make_zip(page)
    expect(page.locator("#export-result")).to_contain_text("已就绪")
    with page.expect_download() as download:
        page.locator("#export-download").click()
    assert any(n.endswith(".safetensors") for n in zipfile.ZipFile(download.value.path()).namelist())
    shot(page, tmp_path / "zh-6-export.png")

    # Back to English: the same page relabels itself, texts drawn by handlers too.
    page.locator("#lang").get_by_label("English").check()
    expect(page.get_by_role("tab", name="6. Export", exact=True)).to_be_visible()
    expect(page.locator("#export-zip")).to_have_text("Make zip")
    expect(page.locator("#export-result")).not_to_contain_text("已就绪")
    open_tab(page, "model")
    expect(page.locator("#method-help")).to_contain_text("Updates every weight")
    expect(page.locator("#plan")).to_contain_text("estimated memory")
    open_tab(page, "train")
    expect(page.locator("#progress")).to_contain_text(f"Run {run_id}: completed")
