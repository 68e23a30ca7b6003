"""Real-browser test in 简体中文: what the engine reports as codes and facts reaches the person in Chinese, whole:
a data problem (its place and kind), a run's phase, and a run that ran out of memory (produced for real under a
capped address space, as in tests/test_memory.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from browser import TRAIN_TIMEOUT_MS, Page, choose, expect, open_tab, page, start_on
from conftest import ROOT, launch_app, stop_app
from test_memory import CHILD

from ftlab import i18n

__all__ = ["page"]  # the fixture, imported for pytest
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_home(tiny_llama, tmp_path_factory) -> Path:
    """A home holding a run that failed for want of memory (batch 160 under a 1.5 GB cap)."""
    home = tmp_path_factory.mktemp("zh-events-home")
    env = {**os.environ, "FTLAB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tiny_llama), "too_big"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "RESULT " in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    return home


@pytest.fixture(scope="module")
def app_url(app_home):
    proc, url = launch_app(app_home)
    yield url
    stop_app(proc)


def zh(key: str, **fields) -> str:
    return i18n.t(key, "zh", **fields)


def test_a_data_problem_a_phase_and_out_of_memory_read_in_chinese(page: Page, app_url: str, app_home: Path,
                                                                   tiny_llama: Path, tmp_path: Path):
    page.get_by_label("简体中文").check()  # picked on the page: a reload keeps it
    expect(page.get_by_role("tab", name=i18n.texts("tab.data", "zh")["label"], exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_role("tab", name=i18n.texts("tab.data", "zh")["label"], exact=True)).to_be_visible()
    assert "lang=zh" in page.url
    bad = tmp_path / "reviews.csv"
    bad.write_text("text,label\ngood food,positive\nslow service,\ncold soup,negative\nkind staff,positive\n")
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    summary = page.locator("#data-summary")
    expect(summary).to_contain_text(zh("problem.missing_field", where="reviews.csv" + zh("where.line", n=3)
                                       + zh("where.field", field="label")).replace("`", ""))
    expect(summary).not_to_contain_text("missing or empty")

    open_tab(page, "train", "zh")  # the run that ran out of memory, shown in Chinese
    oom = next(p.name for p in (app_home / "runs").iterdir() if '"error_code": "oom"' in (p / "status.json").read_text())
    choose(page, "train-run", re.compile(re.escape(oom) + r" \("))
    progress = page.locator("#progress")
    expect(progress).to_contain_text(zh("error.oom", batch_size=160, smaller=80))
    expect(progress).not_to_contain_text("out of memory")

    open_tab(page, "data", "zh")  # a new run: its phases are named in Chinese
    start_on(page, "pirate_chat", tiny_llama)
    phases = [zh(f"phase.{p}", step=0, run="")[:6] for p in ("loading", "base_eval", "training", "base_reused")]
    expect(progress).to_contain_text(re.compile("|".join(map(re.escape, phases))), timeout=TRAIN_TIMEOUT_MS)
    expect(progress).not_to_contain_text(re.compile(r"loading model|evaluating|training\b"))
    ticking = re.compile(re.escape(zh("phase.for", s="X")).replace("X", r"(\d+)"))
    seen = set()
    for _ in range(40):  # the phase's time ticks on screen, in Chinese
        found = ticking.search(progress.inner_text())
        seen |= {found.group(0)} if found else set()
        if len(seen) > 1:
            break
        page.wait_for_timeout(500)
    assert len(seen) > 1, seen
