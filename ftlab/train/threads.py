"""CPU threads for training: as many as this process can really run at once, and torch work of other threads kept
from slowing it.

In a container torch may count the host's cores, while the process is held to fewer by its CPU affinity or its
cgroup quota (a Space, a CI runner, `docker --cpus`); more threads than that only wait on each other.

Every thread that runs a parallel torch operation gets a team of OpenMP worker threads (libgomp) that lives as long
as the thread. Once the process holds more such threads than CPUs, libgomp stops spinning at its barriers and sleeps
instead, and every parallel step of the training thread waits on wake-ups: measured here (2 cores), a LoRA run
trained at half its speed, half the CPU idle, after one rank-32 LoRA layer had been initialised for a memory
estimate in another long-lived thread (an auto-tune study's: every later trial of the study ran at half speed).
So work outside the training thread either does nothing parallel (the estimate builds on the meta device) or runs
`apart`, in a thread that ends with it and takes its team along (serving a model, exporting one).
"""

from __future__ import annotations

import os
import threading
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


def apart(fn, *args, **kwargs):
    """`fn(*args, **kwargs)` in a thread of its own that ends with it (see above): its result, or its exception
    raised here. Thread-local torch state (no_grad, autocast) is not carried over: `fn` sets what it needs."""
    out: dict = {}

    def work() -> None:
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            out["error"] = exc

    thread = threading.Thread(target=work, name=f"ftlab-{getattr(fn, '__name__', 'work')}", daemon=True)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out.get("value")
