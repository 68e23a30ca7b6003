"""Start refuses, before anything is queued, data that can't train the chosen run: data with problems, and data of
another task than the run's (it used to become a failed run with a bare ValueError). The message says what to
change, in the caller's language."""

from __future__ import annotations

import pytest

from ftlab import i18n
from ftlab.app.lab import Lab


def test_data_of_another_task_is_refused_with_what_to_change(tiny_llama):
    lab = Lab()
    cfg = lab.build_config("classify", "pirate_chat", str(tiny_llama), "lora")
    with pytest.raises(ValueError, match=r"pirate_chat holds chat data but the task chosen in step 2 is classify: "
                                         r"pick the matching task"):
        lab.start(cfg.to_dict())
    token = i18n.use("zh")
    try:
        with pytest.raises(ValueError, match=r"pirate_chat 是对话数据，但第 2 步选择的任务是分类"):
            lab.start(cfg.to_dict())
    finally:
        i18n._LANG.reset(token)
    assert lab.runs() == [] or all(r["data"] != "pirate_chat" or r["task"] != "classify" for r in lab.runs())


def test_data_with_problems_is_refused_before_it_queues(tiny_llama, tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [\n', encoding="utf-8")
    lab = Lab()
    before = len(lab.runs())
    cfg = lab.build_config("chat", str(bad), str(tiny_llama), "lora")
    with pytest.raises(ValueError, match=r"the data can't be used yet \(broken\.jsonl.*line 2.*: fix it in step 1"):
        lab.start(cfg.to_dict())
    assert len(lab.runs()) == before
