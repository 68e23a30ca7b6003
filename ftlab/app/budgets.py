"""What a run may cost when several people share the app (shared mode) or it is a public demo on a CPU: the
sample data trains in a few minutes there. Each figure can be set from the environment."""

from __future__ import annotations

import os

SHARED_LIMITS = {"steps": int(os.environ.get("FTLAB_STEP_LIMIT", 300)),
                 "minutes": float(os.environ.get("FTLAB_TIME_LIMIT_MIN", 20)),
                 "waiting": int(os.environ.get("FTLAB_WAITING_PER_USER", 2))}
"""Each run's budget in shared mode: at most this many steps and minutes (then it stops and saves); and how many
runs one person may have waiting in the queue."""
DEMO_LIMITS = {**SHARED_LIMITS, "steps": int(os.environ.get("FTLAB_STEP_LIMIT", 200)),
               "minutes": float(os.environ.get("FTLAB_TIME_LIMIT_MIN", 10)),
               "memory_gb": float(os.environ.get("FTLAB_DEMO_MAX_GB", 6))}
"""A public demo on a CPU Space: shorter runs, and none whose estimated memory is over `memory_gb`."""
