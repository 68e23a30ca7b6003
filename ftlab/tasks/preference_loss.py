"""The preference losses, on the log-probabilities a model gives each reply (summed over the reply's tokens).

DPO (sigmoid) and IPO compare the policy's log-ratio to the reference on the chosen and the rejected reply; ORPO
needs no reference: the chosen reply's token loss plus an odds-ratio term on the replies' mean log-probabilities;
KTO scores each reply alone against a KL estimate of how far the policy has moved (from mismatched prompt/reply
pairs). The formulas follow the papers as TRL implements them (DPOTrainer, ORPOTrainer, KTOTrainer): the tests
compare these with TRL's own on the same batch. Each returns (loss, stats) where stats are the batch's reward
accuracy, margin and log-probabilities (and KTO's KL estimate), for the dashboard.
"""

from __future__ import annotations

import math

from ftlab.tasks import lm_loss


def sequence_logps(model, batch: dict, forward=None):
    """(summed log-probability of each row's trained tokens, their count) for a right-padded batch; only the
    trained positions go through the output layer (ftlab.tasks.lm_loss), unless `forward` (the model as wrapped
    for data-parallel training) must see the whole forward pass."""
    import torch
    import torch.nn.functional as F

    keep = batch["labels"][:, 1:] != lm_loss.IGNORE
    if forward is not None and forward is not model:
        logits = forward(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
        logits = logits[:, -batch["input_ids"].shape[1]:][:, :-1][keep]
        token_logps = -F.cross_entropy(logits.float(), batch["labels"][:, 1:][keep], reduction="none")
    else:
        token_logps = -lm_loss.token_losses(model, batch)
    rows = keep.nonzero(as_tuple=True)[0]
    logps = torch.zeros(len(keep), dtype=token_logps.dtype, device=token_logps.device).index_add(0, rows, token_logps)
    return logps, keep.sum(1)


def _stats(chosen_rewards, rejected_rewards, chosen_logps, rejected_logps, **extra) -> dict:
    """Means over the batch, as floats: what the dashboard plots during training."""
    return {"reward_accuracy": float((chosen_rewards > rejected_rewards).float().mean()),
            "reward_margin": float((chosen_rewards - rejected_rewards).mean()),
            "logps_chosen": float(chosen_logps.mean()), "logps_rejected": float(rejected_logps.mean()),
            **{k: float(v) for k, v in extra.items()}}


def dpo(chosen, rejected, ref_chosen, ref_rejected, beta: float):
    """Sigmoid DPO: -log sigmoid(beta * (chosen log-ratio - rejected log-ratio)), the mean over pairs."""
    import torch.nn.functional as F

    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    loss = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio)).mean()
    return loss, _stats(beta * chosen_ratio.detach(), beta * rejected_ratio.detach(), chosen.detach(),
                        rejected.detach())


def ipo(chosen, rejected, ref_chosen, ref_rejected, chosen_len, rejected_len, beta: float):
    """IPO: (mean-per-token log-ratio difference - 1 / (2 beta))^2, the mean over pairs (TRL normalises by the
    reply's length, as the IPO authors confirmed)."""
    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    delta = chosen_ratio / chosen_len.clamp(min=1) - rejected_ratio / rejected_len.clamp(min=1)
    loss = ((delta - 1 / (2 * beta)) ** 2).mean()
    return loss, _stats(beta * chosen_ratio.detach(), beta * rejected_ratio.detach(), chosen.detach(),
                        rejected.detach())


def log1mexp(x):
    """log(1 - exp(x)) for x < 0, stable on both sides of -ln 2."""
    import torch

    return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def orpo(chosen, rejected, chosen_len, rejected_len, beta: float):
    """ORPO: the chosen replies' mean token loss minus beta * log sigmoid(log odds ratio of the replies' mean
    log-probabilities); no reference model."""
    import torch.nn.functional as F

    nll = -chosen.sum() / chosen_len.sum().clamp(min=1)
    mean_chosen, mean_rejected = (chosen / chosen_len.clamp(min=1)).float(), (rejected / rejected_len.clamp(min=1)).float()
    log_odds = (mean_chosen - mean_rejected) - (log1mexp(mean_chosen) - log1mexp(mean_rejected))
    ratio = F.logsigmoid(log_odds)
    loss = nll - beta * ratio.mean()
    return loss, _stats(beta * mean_chosen.detach(), beta * mean_rejected.detach(), chosen.detach(),
                        rejected.detach(), log_odds=log_odds.detach().mean(), nll=nll.detach())


def kto(logps, ref_logps, wanted, kl_logps, ref_kl_logps, beta: float, desirable_weight: float = 1.0,
        undesirable_weight: float = 1.0):
    """KTO: each desirable reply's 1 - sigmoid(beta * (log-ratio - KL)), each undesirable one's
    1 - sigmoid(beta * (KL - log-ratio)), weighted, the mean over replies; the KL estimate (mismatched
    prompt/reply pairs, policy vs reference, at least 0) is a constant of the step."""
    import torch

    kl = (kl_logps - ref_kl_logps).mean().detach().clamp(min=0)
    ratio = logps - ref_logps
    losses = torch.where(wanted, desirable_weight * (1 - torch.sigmoid(beta * (ratio - kl))),
                         undesirable_weight * (1 - torch.sigmoid(beta * (kl - ratio))))
    rewards = beta * ratio.detach()
    chosen, rejected = rewards[wanted], rewards[~wanted]
    stats = {"kl": float(kl), "logps_chosen": float(logps[wanted].mean()) if len(chosen) else math.nan,
             "logps_rejected": float(logps[~wanted].mean()) if len(rejected) else math.nan}
    if len(chosen) and len(rejected):
        stats["reward_margin"] = float(chosen.mean() - rejected.mean())
    return losses.mean(), stats
