"""One registry of metrics: what each task's evaluation computes is in it, and early stopping, config validation
and the dashboard take their lists and directions from it (precision and recall included)."""

import pytest

from ftlab.app.ui import dashboard
from ftlab.config import RunConfig
from ftlab import metrics
from ftlab.metrics import registry
from ftlab.train.early_stopping import EarlyStopping


def test_every_metric_an_evaluation_computes_is_registered_for_its_task():
    classify = metrics.classification([0, 1, 1, 0], [0, 1, 0, 0], 2)
    chat = metrics.generation(["arr, matey", "ahoy"], ["arr matey", "ahoy there"])
    for task, found in (("classify", classify), ("chat", chat)):
        got = {f"eval_{k}" for k, v in found.items() if isinstance(v, (int, float))}
        assert got and got <= set(registry.keys(task)), (task, got - set(registry.keys(task)))
    assert {"eval_precision", "eval_recall"} <= set(registry.keys("classify"))


@pytest.mark.parametrize("metric", ["eval_precision", "eval_recall", "eval_f1_micro"])
def test_a_classifier_can_stop_early_on_any_of_its_metrics(metric):
    cfg = RunConfig(task="classify", model="m", method="lora")
    cfg.data.path = "sentiment"
    cfg.train.early_stopping_metric = metric
    assert not any("early_stopping_metric" in p for p in cfg.validate())
    stop = EarlyStopping(metric, patience=2)  # higher is better: two evaluations without a rise end the run
    assert [stop.update(s, {metric: v}) for s, v in ((1, 0.5), (2, 0.7), (3, 0.6), (4, 0.7))] == \
        [False, False, False, True]


def test_a_chat_run_cannot_watch_a_classifier_metric():
    cfg = RunConfig(task="chat", model="m", method="lora")
    cfg.data.path = "pirate_chat"
    cfg.train.early_stopping_metric = "eval_accuracy"
    problem = next(p for p in cfg.validate() if "early_stopping_metric" in p)
    assert "eval_bleu" in problem and "eval_precision" not in problem and "chat" in problem
    stop = EarlyStopping("eval_perplexity", patience=1)  # lower is better
    assert not stop.update(1, {"eval_perplexity": 9.0}) and not stop.update(2, {"eval_perplexity": 8.0})
    assert stop.update(3, {"eval_perplexity": 8.5})


def test_the_dashboard_plots_what_the_registry_lists_on_its_scale():
    frame = dashboard.eval_frame([{"step": 0, "eval_bleu": 40.0, "eval_precision": 0.5, "eval_loss": 1.0}])
    assert dict(zip(frame["metric"], frame["value"])) == {"precision": 0.5, "BLEU": 0.4}
