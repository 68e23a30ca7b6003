"""Pick the training precision for this device: bf16 only where it is really faster (or on a GPU that has it).

Some CPUs multiply bf16 matrices several times faster than fp32 (AMX / AVX512-BF16); others emulate it and are
hundreds of times slower. `auto` measures once per process instead of guessing, in the thread that trains: a bf16
matmul run in another thread first left the training thread's fp32 steps ~40 % slower (the app's estimate, made
in a web worker thread, did that to every run it started: benchmarks/RESULTS.md, "In the app").
"""

from __future__ import annotations

import functools
import time


def _matmul_seconds(dtype, n: int = 256, reps: int = 3) -> float:
    import torch

    rng = torch.Generator().manual_seed(0)  # its own generator: a run's seeded random state stays untouched
    a = torch.randn(n, n, generator=rng).to(dtype)
    b = torch.randn(n, n, generator=rng).to(dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return time.perf_counter() - start


ROUNDS, GAP_S = 7, 0.02
"""Rounds of the bf16-vs-fp32 measurement, interleaved and GAP_S apart, each dtype's fastest counted, on one thread
(bf16 units or their emulation are a property of each core; one thread is half as exposed to other programs as
two): one round of a millisecond is at the mercy of whatever else the CPU does at that instant (benchmark studies
measured once, and every trial of them trained in fp32, twice as slow, on a CPU where bf16 matmuls are 3x faster;
under bursts of load from three other processes five rounds on two threads still said fp32 in 2 of 30 tries)."""


@functools.lru_cache(maxsize=1)
def cpu_bf16_is_faster() -> bool:
    import torch

    threads, bf16, fp32 = torch.get_num_threads(), float("inf"), float("inf")
    torch.set_num_threads(1)
    try:
        for _ in range(ROUNDS):
            bf16, fp32 = min(bf16, _matmul_seconds(torch.bfloat16)), min(fp32, _matmul_seconds(torch.float32))
            if bf16 > 10 * fp32:  # emulated: ~100x slower, no need to measure it again
                break
            time.sleep(GAP_S)
    finally:
        torch.set_num_threads(threads)
    return bf16 < 0.8 * fp32


def measured() -> bool:
    """Whether this process has measured the CPU's bf16 speed yet."""
    return cpu_bf16_is_faster.cache_info().currsize > 0


def autocast_dtype(precision: str, device: str):
    """The dtype to autocast to (None: plain fp32)."""
    import torch

    if precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_bf16_is_faster() else None


def describe(dtype) -> str:
    names = {"torch.bfloat16": "bf16", "torch.float16": "fp16"}
    return "fp32" if dtype is None else names.get(str(dtype), str(dtype))


def explain(setting: str, device: str) -> dict:
    """The precision a run will train in, and why, as {"why": code, "chosen": precision}: cpu_pending (a CPU run
    measures it at its start, in its own thread: see above), as_set, cuda, cpu_bf16 or cpu_fp32."""
    if setting == "auto" and device != "cuda" and not measured():
        return {"why": "cpu_pending", "chosen": ""}
    chosen = describe(autocast_dtype(setting, device))
    if setting != "auto":
        return {"why": "as_set", "chosen": chosen}
    if device == "cuda":
        return {"why": "cuda", "chosen": chosen}
    return {"why": "cpu_bf16" if chosen == "bf16" else "cpu_fp32", "chosen": chosen}
