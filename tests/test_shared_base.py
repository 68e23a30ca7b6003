"""One copy of a base model serves the base and every adapter run on it, each chosen per request: the answers are
those of each run loaded on its own; the loaded bases are bounded; while a run trains, a model that would take
its memory is refused with a retry hint, and what is loaded already still answers."""

from __future__ import annotations

import pytest
import torch
from peft import PeftModel

from ftlab import modeling

from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.serve.generation import GenConfig
from ftlab.serve.model_server import Busy, ModelServer
from ftlab.runs.run_dir import RunDir

pytestmark = pytest.mark.slow  # its fixture trains three runs (10 s); make test runs the module
PROMPT = [{"role": "user", "content": "Tell me about the sea."}]


def trained(model, method: str = "lora", lr: float = 5e-3, seed: int = 0, task: str = "chat") -> str:
    cfg = RunConfig(task=task, model=str(model), method=method)
    cfg.data.path = "pirate_chat" if task == "chat" else "sentiment"
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.seed = 3, lr, seed
    cfg.eval.generate_rows, cfg.eval.report_rows = 0, 2
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


@pytest.fixture(scope="module")
def runs(tiny_llama) -> dict:
    return {"a": trained(tiny_llama, lr=5e-3), "b": trained(tiny_llama, lr=2e-2, seed=1),
            "ia3": trained(tiny_llama, method="ia3", lr=5e-2)}


def reference_logits(tiny_llama, run_id: str | None, ids) -> torch.Tensor:
    """Logits of a run loaded alone, the plain way (its base, then its adapter), or of the base alone."""
    model = modeling.load_model(tiny_llama, "causal_lm")
    if run_id:
        model = PeftModel.from_pretrained(model, str(RunDir(run_id).weights_dir()))
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def served_logits(pair, tuned: bool, ids) -> torch.Tensor:
    model, context = (pair.tuned, pair.tuned_context) if tuned else (pair.base, pair.base_context)
    with pair.lock, torch.no_grad(), context():
        return model(input_ids=ids).logits


def test_two_runs_and_the_base_share_one_copy_and_each_answers_as_if_alone(runs, tiny_llama):
    server = ModelServer()
    ids = torch.tensor([[1, 523, 2891, 314, 260, 3874, 30]])
    a, b, base = server.get(runs["a"]), server.get(runs["b"]), server.get(None, "chat", str(tiny_llama))
    assert a.base is b.base is base.base  # one model object: the weights are in memory once
    assert [entry["runs"] for entry in server.loaded()] == [[runs["a"], runs["b"]]]
    want = {name: reference_logits(tiny_llama, runs.get(name), ids) for name in ("a", "b", "base")}
    assert not torch.allclose(want["a"], want["b"], atol=1e-4)  # the two runs learned different things
    for _ in range(2):  # switching back and forth, in any order, changes nothing
        torch.testing.assert_close(served_logits(b, True, ids), want["b"], atol=1e-5, rtol=0)
        torch.testing.assert_close(served_logits(a, True, ids), want["a"], atol=1e-5, rtol=0)
        torch.testing.assert_close(served_logits(a, False, ids), want["base"], atol=1e-5, rtol=0)
        torch.testing.assert_close(served_logits(base, False, ids), want["base"], atol=1e-5, rtol=0)


def test_chat_through_the_shared_base_equals_each_run_alone(runs):
    gen = GenConfig(max_new_tokens=8, temperature=0)
    shared = ModelServer()
    shared.get(runs["b"])  # b's adapter is attached first and active when a's reply starts
    together = shared.chat(runs["a"], "Tell me about the sea.", gen=gen)
    alone = ModelServer().chat(runs["a"], "Tell me about the sea.", gen=gen)
    assert together == alone and together["tuned"] is not None


def test_an_adapter_of_another_kind_gets_its_own_copy_of_the_base(runs, tiny_llama):
    server = ModelServer()
    ids = torch.tensor([[1, 523, 2891, 314]])
    lora, ia3 = server.get(runs["a"]), server.get(runs["ia3"])
    assert lora.base is not ia3.base  # LoRA and IA3 can't be stacked in one PEFT model
    torch.testing.assert_close(served_logits(ia3, True, ids), reference_logits(tiny_llama, runs["ia3"], ids),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(served_logits(lora, True, ids), reference_logits(tiny_llama, runs["a"], ids),
                               atol=1e-5, rtol=0)


def test_loaded_bases_are_bounded_least_recently_used_first(runs, tiny_llama, tiny_bert):
    server = ModelServer(max_loaded=2)
    server.get(runs["a"])
    server.get(None, "classify", str(tiny_bert))
    server.get(runs["a"])  # used again: now the most recent
    server.get(runs["ia3"])  # a third base: the classification model goes
    assert [(e["task"], e["runs"]) for e in server.loaded()] == [("chat", [runs["a"]]), ("chat", [runs["ia3"]])]


def test_while_a_run_trains_a_new_model_is_refused_with_a_retry_hint_and_loaded_ones_answer(runs, tiny_bert):
    live = {}
    server = ModelServer(training=lambda: live or None, reserve_mb=10**9)  # more than any machine has free
    before = server.chat(runs["a"], "Ahoy", gen=GenConfig(max_new_tokens=4, temperature=0))
    live.update(run_id="20261123-000000-train", eta=42.4)
    with pytest.raises(Busy, match=r"Run 20261123-000000-train is training .* Retry in about 42 s") as err:
        server.get(None, "classify", str(tiny_bert))
    assert err.value.retry_after == 42
    assert server.chat(runs["a"], "Ahoy", gen=GenConfig(max_new_tokens=4, temperature=0)) == before
    assert server.get(runs["b"]).tuned is not None  # another adapter on a loaded base costs no new base
    live.clear()
    assert server.get(None, "classify", str(tiny_bert)).task == "classify"


def test_a_forgotten_run_is_attached_again_on_the_same_base(runs, tiny_llama):
    server = ModelServer()
    ids = torch.tensor([[1, 523, 2891]])
    first = server.get(runs["a"])
    server.get(runs["b"])
    server.forget(runs["a"])
    assert [e["runs"] for e in server.loaded()] == [[runs["b"]]]
    again = server.get(runs["a"])
    assert again.base is first.base
    torch.testing.assert_close(served_logits(again, True, ids), reference_logits(tiny_llama, runs["a"], ids),
                               atol=1e-5, rtol=0)


def test_one_run_answers_next_to_another_as_each_answers_alone(runs):
    """Compare's "next to it": run b (or an IA3 run, on a copy of the base of its own) in the base's pane."""
    gen = GenConfig(max_new_tokens=8, temperature=0)
    server = ModelServer()
    alone = {name: ModelServer().chat(runs[name], "Tell me about the sea.", gen=gen) for name in ("a", "b", "ia3")}
    assert alone["a"]["tuned"] != alone["b"]["tuned"]  # the two runs answer differently
    for other in ("b", "ia3"):
        side_by_side = server.chat(runs["a"], "Tell me about the sea.", gen=gen, against=runs[other])
        assert side_by_side == {"base": alone[other]["tuned"], "tuned": alone["a"]["tuned"]}
