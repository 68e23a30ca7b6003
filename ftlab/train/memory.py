"""Running out of memory: recognise it (CUDA raises torch.OutOfMemoryError; the CPU allocator a RuntimeError),
give the memory back, find the largest batch that fits (`train.auto_batch_size`), and tell how much is free.
"""

from __future__ import annotations

import ctypes
import gc


def is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    # oneDNN (the CPU's matmuls) says "could not create a primitive" when it cannot allocate what a primitive needs:
    # seen under a memory cap at large batches, where the allocator's own message says the same of smaller ones
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower()
                                              or text.startswith("could not create a primitive"))


def release() -> None:
    """Collect garbage and empty the CUDA cache, so the next run (or the app) gets the memory back."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    _trim_heap()


def _trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc keeps them otherwise), so a long-running app's
    memory returns to where it was after a run."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def free_mb() -> float:
    """Memory free for a new model on the device inference loads onto: the GPU's free memory, or the RAM the
    system can still give (psutil's `available`)."""
    import psutil
    import torch

    if torch.cuda.is_available():
        return torch.cuda.mem_get_info()[0] / 2**20
    return psutil.virtual_memory().available / 2**20


def largest_batch(try_batch, start: int) -> int:
    """The largest batch size from `start`, halving, for which `try_batch(size)` runs without running out of
    memory (1 is returned untried: if that fails, training will say so)."""
    size = max(1, start)
    while size > 1:
        try:
            try_batch(size)
            return size
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled, the rest goes on up
            if not is_oom(exc):
                raise
        release()
        size //= 2
    return 1


def usage() -> dict:
    """Memory in MB now: this process's resident set (CPU), and on CUDA the allocated and peak GPU memory."""
    import psutil
    import torch

    out = {"rss_mb": psutil.Process().memory_info().rss / 2**20}
    if torch.cuda.is_available():
        out["gpu_mb"] = torch.cuda.memory_allocated() / 2**20
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out
