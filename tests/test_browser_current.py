"""Real-browser tests of the guided flow following the person's run: Compare, Results and Export open on the run
started on this page even when a newer run exists; every phase of a run says what it is doing and its time ticks
(the base model's evaluation, each mid-run evaluation); a CSV mapped by half is flagged before Next, in English and
in 简体中文; the Results table keeps base and tuned in view at 1400 px. The classifier in 简体中文:
tests/test_browser_zh_current.py."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser import (TRAIN_TIMEOUT_MS, Page, choose, expect, fill_number, open_tab, page, wait_idle)

from ftlab import i18n

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir

__all__ = ["page"]  # the fixture, imported for pytest
pytestmark = pytest.mark.slow
PHASE = re.compile(r"(evaluating the base model \(step 0\)|evaluating \(step \d+\))(?: · (\d+) / (\d+) rows[^·]*)? · "
                   r"for (\d+) s")


def phase_seen(page: Page, wanted: str, seconds: float = 300) -> list[tuple[str, int, int]]:
    """Poll the progress text until phase `wanted` (a prefix) has shown two different times or row counts:
    [(phase, rows done, seconds in it), ...] as seen."""
    seen, deadline = [], time.time() + seconds
    while time.time() < deadline:
        found = PHASE.search(page.locator("#progress").inner_text())
        if found and found.group(1).startswith(wanted):
            seen.append((found.group(1), int(found.group(2) or 0), int(found.group(4))))
            same = [(rows, s) for phase, rows, s in seen if phase == seen[-1][0]]
            if len(set(same)) > 1:  # one phase, seen twice with its rows or its time moved on
                return [x for x in seen if x[0] == seen[-1][0]]
        page.wait_for_timeout(400)
    raise AssertionError(f"phase {wanted!r} never advanced on screen: {seen}")


def newer_run(task: str, model: Path, than: str) -> RunDir:
    """A one-step run trained by the engine into the app's home (FTLAB_HOME set by the caller), newer than `than`."""
    cfg = RunConfig(task=task, model=str(model), method="lora")
    cfg.data.path = "pirate_chat" if task == "chat" else "sentiment"
    cfg.train.max_steps, cfg.eval.report_rows = 1, 2
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed" and run.id > than
    return run


def next_steps_stay_on(page: Page, run_id: str, picker: str, metric: str) -> None:
    """From the finished run's Train tab: Compare (its `picker`) and Results show `run_id`."""
    page.locator("#to-compare").click()
    expect(page.locator(f"#{picker} input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    page.locator("#next-results").click()
    expect(page.locator("#results-run input[role=combobox]")).to_have_value(re.compile(re.escape(run_id)))
    expect(page.locator("#results-metrics")).to_contain_text(metric)


def test_the_run_started_stays_current_and_its_phases_tick(page: Page, tiny_llama: Path, tiny_bert: Path,
                                                             app_home: Path, monkeypatch, tmp_path: Path):
    choose(page, "sample", re.compile(r"^pirate_chat: "))
    expect(page.locator("#data-summary")).to_contain_text("pirate_chat.jsonl")  # Next sends the data loaded
    page.locator("#next-model").click()
    wait_idle(page, "model")
    page.locator("#model").get_by_role("textbox").fill(str(tiny_llama))
    page.get_by_role("button", name="Advanced settings").click()
    fill_number(page, "Max steps (0: use epochs)", "4")
    fill_number(page, "Eval replies: max new tokens", "600")  # long replies: each evaluation takes seconds
    page.locator("#next-train").click()
    page.locator("#start").click()
    progress = page.locator("#progress")
    expect(progress).to_contain_text(re.compile(r"Run \S+: (queued|running)"))
    run_id = progress.locator("code").first.inner_text()

    base = phase_seen(page, "evaluating the base model")  # its rows count up and its time ticks
    assert base[-1][2] >= base[0][2] and base[-1][1] >= base[0][1]
    mid = phase_seen(page, "evaluating (step")
    assert mid[-1][0] == mid[0][0]
    expect(progress).to_contain_text("completed", timeout=3 * TRAIN_TIMEOUT_MS)

    # A newer run appears (another tab, another user of this app): the page stays on the one it started.
    monkeypatch.setenv("FTLAB_HOME", str(app_home))
    newer = newer_run("classify", tiny_bert, run_id)
    next_steps_stay_on(page, run_id, "chat-run", "perplexity")
    for header in ("base reply", "tuned reply"):  # the comparison is in view at 1400 px, before prompt and reference
        box = page.locator("#results-rows th", has_text=header).first.bounding_box()
        assert box and box["x"] + box["width"] <= 1400, (header, box)
    page.locator("#next-export").click()
    expect(page.locator("#export-run input[role=combobox]")).to_have_value(run_id)
    open_tab(page, "runs")
    runs = page.locator("#runs-list")
    expect(runs).to_contain_text("Key metric")
    expect(runs).to_contain_text(re.compile(r"perplexity \d+\.\d{3}\b"))
    expect(runs).not_to_contain_text(re.compile(r"\d\.\d{6}"))  # rounded to what matters
    for header in ("Run", "Key metric", "Duration"):  # every column in view at 1400 px
        box = runs.locator("th", has_text=header).first.bounding_box()
        assert box and box["x"] + box["width"] <= 1400, (header, box)

    # Picking the newer run in Compare makes it current: Results follows, and the old conversation is gone.
    open_tab(page, "compare")
    page.locator("#compare-kind").get_by_label("classify").check()
    choose(page, "classify-run", re.compile(re.escape(newer.id)))
    open_tab(page, "results")
    expect(page.locator("#results-run input[role=combobox]")).to_have_value(re.compile(re.escape(newer.id)))

    # The Train tab switched between the two tasks' runs draws each one's own metrics, none of the other's.
    open_tab(page, "train")
    plot = page.locator("#eval-plot")
    for shown, own, other in ((newer.id, "accuracy", "BLEU"), (run_id, "BLEU", "accuracy")):
        choose(page, "train-run", re.compile(re.escape(shown) + r" \("))
        expect(page.locator("#progress")).to_contain_text(shown)
        expect(plot).to_contain_text(own)
        expect(plot).not_to_contain_text(other)

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_csv_mapped_by_half_is_flagged_before_next(page: Page, app_url: str, tmp_path: Path, lang: str):
    data = tmp_path / "reviews.csv"
    data.write_text("txet,lable\n" + "".join(f"review {i} of the film,{'positive' if i % 2 else 'negative'}\n"
                                             for i in range(24)))
    page.goto(app_url + f"?lang={lang}")
    page.locator("#upload input[type=file]").set_input_files(str(data))
    summary = page.locator("#data-summary")
    expect(summary).to_contain_text("txet")  # unusable as it is: the columns are offered for mapping
    choose(page, "col-text", re.compile(r"^txet$"))
    warning = i18n.t("data.label_like", lang, column="lable", task=i18n.t("task.chat", lang))
    expect(summary).to_contain_text(warning.split("**")[1].replace("`", ""))
    page.locator("#next-model").click()
    expect(page.locator(".toast-body").last).to_contain_text(i18n.t("data.label_like_next", lang, column="lable")[:30])
    tab = page.get_by_role("tab", name=i18n.texts("tab.data", lang)["label"], exact=True)
    expect(tab).to_have_attribute("aria-selected", "true")  # it stays on the data
    page.locator("#plain-ok").get_by_role("checkbox").check()
    page.locator("#next-model").click()
    expect(page.get_by_role("tab", name=i18n.texts("tab.model", lang)["label"], exact=True)) \
        .to_have_attribute("aria-selected", "true")
    page.reload()  # the data chosen is remembered by this browser
    expect(page.locator("#data-summary")).to_contain_text("reviews.csv")
