"""A run folder whose config.yaml is damaged (truncated by a full disk, edited by hand, not YAML) never stops the
app: it starts, lists that run as damaged with the reason, and every other run works."""

import pytest

from ftlab.app.lab import Lab
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir, list_runs

DAMAGE = {"truncated": "task: chat\nmodel: x\ntrain: {learning_rate: 1e-4, epo",
          "not yaml": "\x00\x01 : : [",
          "a list": "- 1\n- 2\n",
          "a bad section": "task: chat\ntrain: 3\n",
          "unknown key": "task: chat\ncolour: red\n"}


def good_and_damaged(tiny_model, damage: str) -> tuple[RunDir, RunDir]:
    cfg = RunConfig(task="chat", model=str(tiny_model), method="lora")
    cfg.data.path = "pirate_chat"
    good, bad = RunDir.create(cfg), RunDir.create(cfg)
    for run in (good, bad):
        run.write_status(state="completed", step=3, eval_loss=1.25)
    (bad.path / "config.yaml").write_text(damage)
    return good, bad


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_config_is_listed_with_its_reason_and_the_rest_works(tiny_llama, damage):
    good, bad = good_and_damaged(tiny_llama, damage)
    with pytest.raises(ValueError, match="config.yaml"):  # the reason names the file
        bad.config()
    rows = {r["run_id"]: r for r in list_runs()}
    assert rows[good.id]["state"] == "completed" and rows[good.id]["task"] == "chat"
    assert rows[bad.id]["state"] == "damaged" and "config.yaml" in rows[bad.id]["problem"]
    lab = Lab()
    assert {good.id, bad.id} <= {r["run_id"] for r in lab.runs()}
    assert lab.run_config(bad.id) == {} and lab.run_config(good.id)["task"] == "chat"


def test_the_app_builds_with_a_damaged_run_and_lists_it(tiny_llama):
    from ftlab.app.ui import build_app
    from ftlab.app.ui.runs_tab import table

    good, bad = good_and_damaged(tiny_llama, DAMAGE["truncated"])
    lab = Lab()
    build_app(lab)
    states = dict(zip(table(lab)["Run"], table(lab)["State"]))
    assert states[good.id] == "completed"
    assert states[bad.id].startswith("damaged: config.yaml: not valid YAML")
