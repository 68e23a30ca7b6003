"""Data-parallel training with `accelerate launch` (several GPUs, several machines, or CPU processes).

`accelerate launch -m ftlab train run.yaml` starts one process per device; each loads the model and the data,
trains on its own share of every step's batches, and gradients are averaged across processes (PyTorch DDP through
accelerate). Only the main process writes the run directory: status, metrics, checkpoints and the saved weights.
A plain `python -m ftlab train` (or the app) runs one process and none of this applies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Group:
    rank: int = 0
    world: int = 1
    accelerator: object = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def wrap(self, model):
        """The model to train with: wrapped for gradient averaging when distributed."""
        return self.accelerator.prepare_model(model) if self.distributed else model

    def total(self, n: int) -> int:
        """The sum of `n` over every process of the group (`n` itself in a group of one)."""
        if not self.distributed:
            return n
        import torch

        return int(self.accelerator.reduce(torch.tensor(n, device=self.accelerator.device), "sum"))

    def share(self, value):
        """The main process's `value`, on every process (run ids)."""
        if not self.distributed:
            return value
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([value])[0]


def group() -> Group:
    """This process's place in an `accelerate launch` group (a group of one without it)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Group()
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    return Group(accelerator.process_index, accelerator.num_processes, accelerator)
