"""The preference losses equal TRL's own, on the same model, batch and beta, in fp32: DPO (sigmoid) and IPO
through TRL's DPOTrainer, KTO through its KTOTrainer (each builds, tokenizes and collates the batch, and computes
its loss), and ORPO's odds-ratio term through ORPOTrainer's own functions. ftlab reads TRL's collated batch (the
replies' tokens marked by TRL's completion mask) and computes its loss with its own code (ftlab.tasks).

TRL is a test-only dependency (requirements-test.txt)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import torch

from ftlab import modeling
from ftlab.config import RunConfig
from ftlab import tasks
from ftlab.tasks import lm_loss, preference_loss

pytestmark = pytest.mark.slow  # TRL's trainers take a while to build; `make test` runs them
import datasets  # noqa: E402
import trl  # noqa: E402 - installed by make test (requirements-test.txt): a missing oracle fails, never skips

PAIRS = [("What is 6 times 7?", "42.", "Great question! Let me think about it carefully: the answer is 42. Hope it helps!"),
         ("Capital of Peru?", "Lima.", "Oh, what a thing to ask. After some thought, I would say it is Lima, of course."),
         ("Opposite of hot?", "Cold.", "Thank you for asking! The opposite of hot, as everyone knows, would be cold."),
         ("Colour of snow?", "White.", "Sure! Snow, which falls in winter, is usually white, as you may know already.")]


@pytest.fixture(scope="module")
def models(tiny_llama):
    """(policy, reference, tokenizer): the tiny Llama, and a copy of it moved a little so the two differ."""
    reference = modeling.load_model(tiny_llama, "causal_lm").float().eval()
    policy = copy.deepcopy(reference)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return policy, reference, modeling.load_tokenizer(tiny_llama)


def labelled(batch: dict, prefix: str = "") -> dict:
    """TRL's collated rows as ftlab reads them: loss on the tokens TRL's completion mask marks."""
    ids, mask = batch[f"{prefix}input_ids"], batch[f"{prefix}attention_mask"]
    labels = ids.masked_fill((batch[f"{prefix}completion_mask"] == 0) | (mask == 0), lm_loss.IGNORE)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def trl_args(config_class, tmp_path, **extra):
    return config_class(output_dir=str(tmp_path), per_device_train_batch_size=len(PAIRS), report_to=[],
                        use_cpu=True, bf16=False, fp16=False, disable_dropout=True, beta=0.1, **extra)


def dpo_batch(trainer) -> dict:
    batch = next(iter(trainer.get_train_dataloader()))
    return {k: v.to("cpu") if hasattr(v, "to") else v for k, v in batch.items()}


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo"])
def test_dpo_and_ipo_equal_trls_dpo_trainer(models, tmp_path, loss_type):
    policy, reference, tok = models
    rows = [{"prompt": [{"role": "user", "content": q}], "chosen": [{"role": "assistant", "content": c}],
             "rejected": [{"role": "assistant", "content": r}]} for q, c, r in PAIRS]
    trainer = trl.DPOTrainer(model=policy, ref_model=reference, processing_class=tok,
                             args=trl_args(trl.DPOConfig, tmp_path, loss_type=[loss_type]),
                             train_dataset=datasets.Dataset.from_list(rows))
    batch = dpo_batch(trainer)
    expected = trainer.compute_loss(trainer.model, batch)

    ours = labelled(batch)
    with torch.no_grad():
        ref, _ = preference_loss.sequence_logps(reference, ours)
    logps, counts = preference_loss.sequence_logps(policy, ours)
    n = len(PAIRS)
    if loss_type == "sigmoid":
        loss, stats = preference_loss.dpo(logps[:n], logps[n:], ref[:n], ref[n:], 0.1)
    else:
        loss, stats = preference_loss.ipo(logps[:n], logps[n:], ref[:n], ref[n:], counts[:n], counts[n:], 0.1)
    # within 1e-5, or 1e-6 of the value: IPO's loss with beta 0.1 is about 25 ((delta - 1/(2 beta))^2)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5, rel=1e-6)
    assert abs(loss.item() - 0.6931) > 1e-3  # the policy was moved: a loss of log 2 would say nothing
    trl_metrics = next(m for m in trainer._metrics.values() if m.get("rewards/accuracies"))
    assert stats["reward_accuracy"] == pytest.approx(trl_metrics["rewards/accuracies"][-1], abs=1e-6)
    assert stats["reward_margin"] == pytest.approx(trl_metrics["rewards/margins"][-1], abs=1e-4)


def test_kto_equals_trls_kto_trainer(models, tmp_path):
    policy, reference, tok = models
    rows = [{"prompt": [{"role": "user", "content": q}], "completion": [{"role": "assistant", "content": reply}],
             "label": wanted} for q, c, r in PAIRS for reply, wanted in ((c, True), (r, False))][: len(PAIRS)]
    trainer = trl.KTOTrainer(model=policy, ref_model=reference, processing_class=tok,
                             args=trl_args(trl.KTOConfig, tmp_path, desirable_weight=1.0, undesirable_weight=1.0),
                             train_dataset=datasets.Dataset.from_list(rows))
    batch = dpo_batch(trainer)
    expected = trainer.compute_loss(trainer.model, batch)

    main, mismatched = labelled(batch), labelled(batch, "KL_")
    with torch.no_grad():
        ref, _ = preference_loss.sequence_logps(reference, main)
        ref_kl, _ = preference_loss.sequence_logps(reference, mismatched)
        kl, _ = preference_loss.sequence_logps(policy, mismatched)
    logps, _ = preference_loss.sequence_logps(policy, main)
    wanted = torch.as_tensor(batch["label"], dtype=torch.bool)
    loss, stats = preference_loss.kto(logps, ref, wanted, kl, ref_kl, 0.1)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
    assert stats["kl"] == pytest.approx(next(m for m in trainer._metrics.values() if m.get("kl"))["kl"][-1], abs=1e-5)


def test_orpos_odds_ratio_and_mean_log_probabilities_equal_trls(models):
    from trl.experimental.orpo import ORPOTrainer

    policy, _, tok = models
    rows = []
    for q, c, r in PAIRS:
        prompt = [{"role": "user", "content": q}]
        from ftlab.tasks.preference import encode_reply

        rows += [encode_reply(tok, prompt, c, 256), encode_reply(tok, prompt, r, 256)]
    from ftlab.data import encode

    chosen = encode.collate(rows[0::2], tok.pad_token_id)
    rejected = encode.collate(rows[1::2], tok.pad_token_id)
    logps, counts = {}, {}
    for name, batch in (("chosen", chosen), ("rejected", rejected)):
        logps[name], counts[name] = preference_loss.sequence_logps(policy, batch)
        logits = policy(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        trl_mean = ORPOTrainer.get_batch_logps(logits, batch["labels"], average_log_prob=True)
        assert (logps[name] / counts[name]).tolist() == pytest.approx(trl_mean.tolist(), abs=1e-5)
        if name == "chosen":  # ORPO's token loss: the model's own cross-entropy on the replies' tokens
            own_nll = policy(**batch).loss
    loss, stats = preference_loss.orpo(logps["chosen"], logps["rejected"], counts["chosen"], counts["rejected"], 0.1)
    trl_self = SimpleNamespace(beta=0.1, accelerator=SimpleNamespace(device="cpu"))
    trl_terms, *_ = ORPOTrainer.odds_ratio_loss(trl_self, logps["chosen"] / counts["chosen"],
                                                logps["rejected"] / counts["rejected"])
    assert stats["nll"] == pytest.approx(own_nll.item(), abs=1e-5)
    assert loss.item() == pytest.approx(own_nll.item() - trl_terms.mean().item(), abs=1e-5)


def test_the_task_computes_the_same_loss_from_its_own_batch_as_the_loss_functions(models):
    """The preference task's collated batch (chosen rows, then rejected; reference log-probabilities beside)
    gives the loss function's value: the wiring between the task and the losses."""
    policy, reference, tok = models
    task = tasks.get("preference")
    cfg = RunConfig(task="preference")
    cfg.preference.loss = "dpo"
    examples = [e for q, c, r in PAIRS for e in task.encode(tok, "preference", {"prompt": q, "chosen": c,
                                                                                "rejected": r}, 256, {}, False)]
    from contextlib import nullcontext

    (prepared,) = task.prepare(policy, [examples], cfg, "cpu", nullcontext, tok.pad_token_id,
                               (reference, nullcontext))
    batch = task.collate(prepared, tok.pad_token_id)
    loss = task.loss(policy, batch, None, cfg)
    logps, _ = preference_loss.sequence_logps(policy, batch)
    with torch.no_grad():
        ref, _ = preference_loss.sequence_logps(reference, batch)
    n = len(PAIRS)
    expected, _ = preference_loss.dpo(logps[:n], logps[n:], ref[:n], ref[n:], cfg.preference.beta)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
