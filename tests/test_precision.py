"""`precision: auto` on a CPU: the bf16-or-fp32 measurement gives this CPU's answer even while other processes
keep the CPU busy in bursts (a shared machine, another app, the browser): one round of it said fp32 in 6 of 40
measurements under the load below on a CPU whose bf16 matmuls are 3x faster, which trains a whole run twice as slow."""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time

import pytest

from ftlab.train import precision


def quiet_ratio() -> float:
    import torch

    return statistics.median(precision._matmul_seconds(torch.bfloat16) / precision._matmul_seconds(torch.float32)
                             for _ in range(9))


def spin(stop, seed: int) -> None:
    """Busy for up to 2 ms, idle for up to 2 ms, again: load that comes and goes within a measurement."""
    rng = random.Random(seed)
    while not stop.is_set():
        end = time.perf_counter() + rng.random() / 500
        while time.perf_counter() < end:
            pass
        time.sleep(rng.random() / 500)


def test_the_bf16_measurement_gives_the_quiet_cpus_answer_under_bursts_of_load():
    ratio = quiet_ratio()
    if 0.5 <= ratio <= 2:
        pytest.skip(f"bf16 is neither clearly faster nor clearly slower here (x{ratio:.2f} the fp32 time)")
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    load = [ctx.Process(target=spin, args=(stop, seed), daemon=True) for seed in range(2)]
    for p in load:
        p.start()
    try:
        time.sleep(1.0)  # the forked processes running (a large process forks slowly): load, not start-up
        found = [precision.cpu_bf16_is_faster.__wrapped__() for _ in range(16)]
    finally:
        stop.set()
        for p in load:
            p.join(10)
    assert found == [ratio < 0.5] * 16
