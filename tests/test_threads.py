"""Training uses as many threads as the process can really run: its CPU affinity, capped by a cgroup quota."""

import os

from ftlab.train import threads


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
