"""CPU threads for training: as many as this process can really run at once.

In a container torch may count the host's cores, while the process is held to fewer by its CPU affinity or its
cgroup quota (a Space, a CI runner, `docker --cpus`); more threads than that only wait on each other.
"""

from __future__ import annotations

import os
from pathlib import Path

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def usable_cpus(cpu_max: Path = CPU_MAX) -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 quota ("quota period", or "max")."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, count)


def configure() -> int:
    """Lower torch's intra-op threads to the usable CPUs (never raise them: a user's own setting stays)."""
    import torch

    usable = usable_cpus()
    if torch.get_num_threads() > usable:
        torch.set_num_threads(usable)
    return torch.get_num_threads()
