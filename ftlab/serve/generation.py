"""Token-by-token decoding of two models (or one model with its adapter off and on) in lock-step.

Base and tuned replies stream side by side from one copy of the weights: each step runs the base decoder with
the adapter disabled, then the tuned decoder with it enabled, each with its own KV cache.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

from ftlab.train import threads


MAX_NEW_TOKENS = 4096
GREEDY_BELOW = 1e-4
"""A temperature this low samples the most likely token anyway; dividing by it would overflow to inf."""


@dataclass
class GenConfig:
    max_new_tokens: int = 128
    temperature: float = 0.7
    """0 means greedy."""
    top_p: float = 0.9
    seed: int = 0

    def __post_init__(self):
        """ValueError naming the setting: NaN or infinite numbers, a temperature outside [0, 2], top_p outside
        (0, 1], a reply length outside [1, MAX_NEW_TOKENS]."""
        problems = []
        if not 0 <= self.temperature <= 2:  # False for NaN as well
            problems.append(f"temperature {self.temperature} must be between 0 and 2")
        if not 0 < self.top_p <= 1:
            problems.append(f"top_p {self.top_p} must be above 0 and at most 1")
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS:
            problems.append(f"max_new_tokens {self.max_new_tokens} must be between 1 and {MAX_NEW_TOKENS}")
        if not 0 <= self.seed < 2**63:
            problems.append(f"seed {self.seed} must be between 0 and 2**63 - 1")
        if problems:
            raise ValueError("; ".join(problems))


def sample_next(logits, gen: GenConfig, generator) -> int:
    """Pick the next token from a 1-D logits vector (greedy at temperature 0, else nucleus sampling)."""
    import torch

    if gen.temperature < GREEDY_BELOW:
        return int(logits.argmax())
    probs = torch.softmax(logits.float() / gen.temperature, dim=-1)
    sorted_probs, order = probs.sort(descending=True)
    keep = sorted_probs.cumsum(0) - sorted_probs < max(gen.top_p, 1e-6)
    sorted_probs = sorted_probs * keep
    choice = torch.multinomial(sorted_probs / sorted_probs.sum(), 1, generator=generator)
    return int(order[choice])


class Decoder:
    """One sequence being generated; `step()` adds a token. `context` wraps each forward (adapter off/on)."""

    def __init__(self, model, prompt: list[int], gen: GenConfig, eos: set[int], context=nullcontext, device="cpu",
                 use_cache: bool = True):
        import torch

        self.model, self.gen, self.eos, self.context, self.device = model, gen, eos, context, device
        self.prompt, self.use_cache = prompt, use_cache
        """Without a cache every step reads the whole sequence: prompt-learning adapters add their virtual tokens
        on every forward pass, which a KV cache would see twice."""
        self.next_input = torch.tensor([prompt], device=device)
        self.past = None
        self.tokens: list[int] = []
        self.done = gen.max_new_tokens <= 0
        self.generator = torch.Generator().manual_seed(gen.seed)

    def step(self) -> None:
        """Add a token, in a thread that ends with the work (the caller's may live long: see ftlab.train.threads)."""
        threads.apart(self._step)

    def _step(self) -> None:
        import torch

        with torch.no_grad(), self.context():
            out = self.model(input_ids=self.next_input, past_key_values=self.past, use_cache=self.use_cache)
        self.past = out.past_key_values if self.use_cache else None
        token = sample_next(out.logits[0, -1].cpu(), self.gen, self.generator)
        if token in self.eos:
            self.done = True
            return
        self.tokens.append(token)
        self.next_input = torch.tensor([[token] if self.use_cache else self.prompt + self.tokens], device=self.device)
        self.done = len(self.tokens) >= self.gen.max_new_tokens


def lockstep(sides: list[tuple[Decoder, object, object] | None]):
    """Step every unfinished decoder in turn, each under its model's lock; yield the decoded texts after each
    round. A side is (decoder, lock, decode: token ids -> text), or None for an empty pane; two sides on one
    loaded model share its lock, sides on two models (one run next to another with weights of its own) do not."""
    while any(s and not s[0].done for s in sides):
        for side in sides:
            if side and not side[0].done:
                with side[1]:
                    side[0].step()
        yield [decode(d.tokens) if d else "" for d, _, decode in (s or (None, None, None) for s in sides)]
