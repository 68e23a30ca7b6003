"""An exponential moving average of a run's trained weights, which the evaluations an auto-tune study asks for
mid-run measure (`train.eval_average`, the decay per step; 0: off, a trial: study_space.AVERAGE).

At a high learning rate a run's accuracy swings by points from one step to the next: on the sentiment quality set,
LoRA at 1.9e-3 measured 81.2, 80.6, 85.4, 74.4, 86.4 % four steps apart, and a study that compared its trials on
one such evaluation at a rung stopped, in one study of five, the trial that ended best (91.8 %). The weights
averaged with a decay of 0.9 (about the last ten steps) measured 83.2, 82.0, 84.8, 84.4, 85.2 % there: where the
run is heading rather than the step it happens to be at (Polyak averaging; the schedule's decay to zero does the
same by the end). The run trains and saves its own weights; its last evaluation measures those.

Written here because it is a dozen lines over the trained parameters (torch.optim.swa_utils.AveragedModel copies
the whole model, a second base for every LoRA trial).
"""

from __future__ import annotations

from contextlib import contextmanager


class Average:
    """The average of `params` (the tensors the optimizer steps), updated after each step."""

    def __init__(self, params: list, decay: float):
        self.params, self.decay = list(params), decay
        self.shadow = [p.detach().clone() for p in self.params]

    def update(self) -> None:
        import torch

        with torch.no_grad():
            for kept, p in zip(self.shadow, self.params):
                kept.lerp_(p.detach(), 1.0 - self.decay)

    @contextmanager
    def applied(self):
        """The parameters hold the average inside the block, their own values again after it."""
        import torch

        own = [p.detach().clone() for p in self.params]
        with torch.no_grad():
            for p, kept in zip(self.params, self.shadow):
                p.copy_(kept)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, mine in zip(self.params, own):
                    p.copy_(mine)
