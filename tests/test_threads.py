"""Training uses as many threads as the process can really run: its CPU affinity, capped by a cgroup quota; torch
work in other threads that live on leaves no OpenMP workers behind to slow it."""

import os
import threading
import time

import pytest

from ftlab.config import RunConfig
from ftlab.serve import model_server
from ftlab.train import plan, threads


def test_a_cgroup_quota_caps_the_threads(tmp_path):
    cpu_max = tmp_path / "cpu.max"
    affinity = len(os.sched_getaffinity(0))
    cpu_max.write_text("max 100000\n")
    assert threads.usable_cpus(cpu_max) == affinity
    cpu_max.write_text("100000 100000\n")  # one CPU's worth of time per period
    assert threads.usable_cpus(cpu_max) == 1
    cpu_max.write_text("50000 100000\n")  # half a CPU still gets one thread
    assert threads.usable_cpus(cpu_max) == 1
    assert threads.usable_cpus(tmp_path / "absent") == affinity


def test_configure_never_exceeds_the_usable_cpus():
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads.usable_cpus() + 8)
        assert threads.configure() == threads.usable_cpus()
    finally:
        torch.set_num_threads(before)


MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # bundled: real layers, large enough for torch to go parallel


def threads_left_by(work) -> int:
    """OS threads that `work`, run in a thread that lives on, leaves behind in the process (beside that thread)."""
    warm = threading.Thread(target=work)  # threads a library starts once, on first use, are not the work's
    warm.start()
    warm.join()
    done, finish = threading.Event(), threading.Event()

    def long_lived() -> None:
        work()
        done.set()
        finish.wait(60)

    before = set(os.listdir("/proc/self/task"))
    thread = threading.Thread(target=long_lived)
    thread.start()
    assert done.wait(120)
    deadline = time.time() + 5  # a thread that ended is gone from /proc a moment after it is joined
    while (started := set(os.listdir("/proc/self/task")) - before - {str(thread.native_id)}) and time.time() < deadline:
        time.sleep(0.05)
    finish.set()
    thread.join()
    return len(started)


def test_a_memory_estimate_in_a_long_lived_thread_leaves_no_compute_threads_behind():
    """A study's thread estimates each trial's memory: OpenMP workers it started would halve the speed of every
    trial trained after it (see ftlab.train.threads; a rank-32 LoRA layer initialised on the CPU started one)."""
    cfg = RunConfig(task="classify", model=MINILM, method="lora")
    cfg.lora.r = 32
    found = {}
    assert threads_left_by(lambda: found.update(plan.estimate(cfg))) == 0
    assert found["trainable"] > 6 * 2 * 32 * 384  # the LoRA layers are counted as before: rank 32 on six layers


def test_serving_from_a_long_lived_thread_leaves_no_compute_threads_behind():
    """Gradio and the API answer from pooled threads that live on; a classifier's forward pass there runs apart."""
    server = model_server.ModelServer()
    texts = [f"review number {i}: I liked it and would watch it again" for i in range(32)]
    found = []
    assert threads_left_by(lambda: found.append(server.predict(MINILM, texts))) == 0
    assert len(found[-1]) == 32 and set(found[-1][0]["probabilities"]) == {"0", "1"}


def test_work_apart_returns_its_value_and_raises_its_error_in_the_caller():
    assert threads.apart(lambda a, b=0: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        threads.apart(lambda: 1 / 0)
