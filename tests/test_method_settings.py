"""Each method owns its settings: the sections it reads are checked for it (and only for it), the UI shows them
only while it is chosen, and a bad value reads in the person's language."""

from __future__ import annotations

from ftlab import i18n, methods
from ftlab.app import texts
from ftlab.app.lab import Lab
from ftlab.app.ui.model_tab import own_settings, task_settings
from ftlab.config import RunConfig


def config(method: str, **sections) -> RunConfig:
    cfg = RunConfig.from_dict({"method": method, "data": {"path": "pirate_chat"}, **sections})
    return cfg


def test_a_methods_own_settings_are_checked_for_the_methods_that_read_them():
    assert config("lora", lora={"r": 0}).validate() == ["lora.r: 0 must be at least 1"]
    assert config("qlora", quant={"bits": 3}).validate() == ["quant.bits: 3 is not one of 4, 8"]
    assert config("freeze", freeze={"last_layers": 0}).validate() == ["freeze.last_layers: 0 must be at least 1"]
    assert config("prompt", prompt={"virtual_tokens": 0}).validate() == ["prompt.virtual_tokens: 0 must be at least 1"]
    assert config("full", lora={"r": 0}, quant={"bits": 3}).validate() == []  # settings full does not read
    assert [m.settings for m in (methods.get("qlora"), methods.get("full"))] == [("lora", "quant"), ()]


def test_a_setting_problem_reads_in_chinese():
    problems = config("lora", lora={"dropout": 1.5}, train={"learning_rate": -1, "batch_size": 2.5}).validate()
    assert problems == ["train.batch_size: '2.5' is not a whole number"]  # types first: later checks compare numbers
    problems += config("lora", lora={"dropout": 1.5}, train={"learning_rate": -1}).validate()
    i18n.use("zh")
    try:
        shown = [texts.setting_problem(p) for p in problems]
    finally:
        i18n.use("en")
    assert shown == ["train.batch_size：'2.5' 不是整数", "train.learning_rate：-1.0 必须为正数",
                     "lora.dropout：1.5 必须在 [0, 1) 之内"]


def test_the_model_tab_shows_a_methods_settings_only_while_it_is_chosen():
    controls = {key: key for key in ("lora.r", "lora.alpha", "quant.bits", "freeze.last_layers",
                                     "prompt.virtual_tokens", "eval.max_new_tokens", "max_steps")}
    shown = own_settings(Lab.methods(), controls)
    visible = {name: sorted(c for c, on in shown(name).items() if on) for name in ("lora", "qlora", "full", "prefix")}
    assert visible == {"lora": ["lora.alpha", "lora.r"], "qlora": ["lora.alpha", "lora.r", "quant.bits"], "full": [],
                       "prefix": ["prompt.virtual_tokens"]}
    assert "eval.max_new_tokens" not in shown("lora") and "max_steps" not in shown("full")  # everyone's stay


def test_the_model_tab_shows_the_reply_length_only_for_tasks_that_answer_in_replies():
    controls = {key: key for key in ("eval.max_new_tokens", "eval.probes", "classify.head_init", "preference.beta")}
    shown = own_settings(task_settings(), controls)
    visible = {name: sorted(c for c, on in shown(name).items() if on) for name in ("chat", "classify", "preference")}
    assert visible == {"chat": ["eval.max_new_tokens"], "classify": ["classify.head_init"],
                       "preference": ["eval.max_new_tokens", "preference.beta"]}
    assert "eval.probes" not in shown("classify")  # a classifier's probes are classified: everyone's, always shown
