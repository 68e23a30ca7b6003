"""English and 简体中文: every text of the app exists in both languages with the same placeholders, the language
switch re-labels every component made from a key, and a page opens in the language its address or browser asks
for."""

from __future__ import annotations

import re
import string
from types import SimpleNamespace

import pytest

from ftlab import i18n
from ftlab.app.presets import PRESETS
from ftlab.app.lab import Lab

ALLOWED_SAME = re.compile(r"^[\W\d_]*$|^(LoRA|DoRA|IA3|P-tuning|BLEU|ROUGE-L|chrF|LoRA alpha|LoRA dropout)$")
"""Texts that may read the same in both languages: names of methods and metrics, symbols, empty notes."""


def entries():
    """(key, prop, {en, zh}) for every text: a message has prop None; choices are flattened."""
    for key, entry in i18n.catalog().items():
        if set(entry) <= set(i18n.LANGS):
            yield key, None, entry
            continue
        for prop, value in entry.items():
            if prop == "choices":
                for choice, text in value.items():
                    yield key, f"choices.{choice}", text
            else:
                yield key, prop, value


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def problems(key, prop, text) -> list[str]:
    where = f"{key} {prop or ''}".strip()
    if set(text) != {"en", "zh"}:
        return [f"{where}: languages {sorted(text)}"]
    found = []
    if fields(text["en"]) != fields(text["zh"]):
        found.append(f"{where}: placeholders {fields(text['en'])} vs {fields(text['zh'])}")
    if text["en"] and not ALLOWED_SAME.match(text["en"]) and not re.search(r"[\u4e00-\u9fff]", text["zh"]):
        found.append(f"{where}: no Chinese in {text['zh']!r}")
    return found


def test_every_text_has_both_languages_with_the_same_placeholders():
    texts = list(entries())
    assert len(texts) > 300
    found = [p for entry in texts for p in problems(*entry)]
    assert not found, "\n".join(found)


def test_preset_and_method_choices_name_every_preset_and_method():
    assert set(i18n.catalog()["model.preset"]["choices"]) == set(PRESETS)
    assert set(i18n.catalog()["model.method"]["choices"]) == {m["name"] for m in Lab.methods()}
    for method in Lab.methods():
        assert i18n.t(f"method.{method['name']}.help", "en") == method["help"]  # one source of truth in English


def test_a_message_is_in_the_callers_language_with_its_fields():
    token = i18n.use("zh")
    try:
        assert i18n.t("dash.step", step=3, total=10) == "第 3 / 10 步"
    finally:
        i18n._LANG.reset(token)
    assert i18n.t("dash.step", step=3, total=10) == "step 3 / 10"


@pytest.mark.parametrize("query,header,expected", [
    ({}, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ({}, "en-US,en;q=0.9,zh-CN;q=0.5", "en"),
    ({"lang": "en"}, "zh-CN", "en"),
    ({"lang": "zh"}, "en-US", "zh"),
    ({"lang": "fr"}, "", "en"),
])
def test_the_page_opens_in_the_language_of_its_address_or_browser(query, header, expected):
    request = SimpleNamespace(query_params=query, headers={"accept-language": header})
    assert i18n.from_request(request) == expected


def test_switching_language_relabels_every_component_made_from_a_key():
    from ftlab.app.ui import build_app

    demo = build_app(Lab())
    switch = next(fn for fn in demo.fns.values() if fn.name == "switch")
    request = SimpleNamespace(session_hash="session-1", username=None)
    shown = {}
    for lang in ("zh", "en"):
        updates = switch.fn(request, lang, request)  # the event, as Gradio calls it (request first, see owners)
        assert len(updates) == len(switch.outputs) > 100
        shown[lang] = [u.get("label") or u.get("value") or u.get("title") for u in updates]
        assert i18n.of_session("session-1") == lang  # the session's later messages use it too
    changed = sum(en != zh for en, zh in zip(shown["en"], shown["zh"]))
    assert changed >= 0.9 * len(switch.outputs), f"only {changed} of {len(switch.outputs)} texts change"
    assert "开始训练" in shown["zh"] and "Start training" in shown["en"]
    i18n.forget("session-1")


def test_format_reasons_have_one_english_source_and_a_chinese_text():
    from ftlab.data.formats import FORMATS

    for name, fmt in FORMATS.items():
        assert i18n.t(f"format.{name}.reason", "en") == fmt.reason
        assert i18n.t(f"format.{name}.reason", "zh") != fmt.reason


def test_a_language_switch_keeps_the_order_and_the_values_a_component_offers():
    import gradio as gr

    from ftlab.app.ui.translate import collecting, tr

    with gr.Blocks(), collecting() as registry:
        tr("model.method", gr.Radio, choices=["lora", "qlora", "full"], value="lora")
    choices = registry.updates("zh")[0]["choices"]
    assert [v for _, v in choices] == ["lora", "qlora", "full"]  # not the locale file's order (full first)
    assert dict((v, label) for label, v in choices)["full"] == i18n.texts("model.method", "zh")["choices"][0][0]
