"""Keeping a CPU run's resident memory near what it really uses.

glibc's malloc keeps the memory a training step frees and rarely hands it back: in one long SmolLM2 batch the
process held 2.3 GB after the forward pass of which 0.7 GB was live (measured with malloc_trim: the rest came
back at once). The peak resident memory is then set by how the allocator fragments, not by what the step needs,
and differs by hundreds of MB from run to run. Trimming after every layer would cost page faults on every
allocation; the `Governor` trims only when the resident set passes a ceiling (the run's memory at the start of
training plus its activation budget and some headroom), checking a few times a second, so short batches never
pay for it and long ones stay near their real peak. When a trim gives little back, the memory is live (optimizer
states made by the first step, say), and the ceiling moves up above it instead of trimming again and again.
"""

from __future__ import annotations

import ctypes
import os
import threading


def _libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None


def resident_mb() -> float:
    """This process's resident set now, in MB (from /proc: cheap enough to read several times a second)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Governor:
    """While active, hands free heap pages back to the system whenever the resident set passes `ceiling_mb`.

    A trim that frees less than half of `headroom_mb` raises the ceiling to `headroom_mb` above what is left."""

    def __init__(self, ceiling_mb: float, headroom_mb: float = 256, every_s: float = 0.1):
        self.ceiling, self.headroom, self.every = ceiling_mb, headroom_mb, every_s
        self.trims = 0
        self._libc = _libc()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def works(self) -> bool:
        return self._libc is not None and os.path.exists("/proc/self/statm")

    def __enter__(self) -> "Governor":
        if self.works:
            self._thread = threading.Thread(target=self._watch, name="ftlab-heap", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            before = resident_mb()
            if before > self.ceiling:
                self._libc.malloc_trim(0)
                self.trims += 1
                after = resident_mb()
                if before - after < self.headroom / 2:
                    self.ceiling = max(self.ceiling, after + self.headroom)


def for_training(budget_mb: float, device: str) -> Governor | None:
    """A governor for a run on the CPU: ceiling = resident memory now + activation budget + a quarter of it."""
    if device != "cpu":
        return None
    governor = Governor(0, headroom_mb=budget_mb / 4)
    if governor.works:
        governor._libc.malloc_trim(0)  # what the base model's evaluation left behind is not the run's
        governor.ceiling = resident_mb() + budget_mb + governor.headroom
    return governor
