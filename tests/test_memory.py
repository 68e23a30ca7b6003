"""Running out of memory, for real: a child process caps its address space, so a too-large batch fails inside the
training step's own allocation. The run fails with a message naming the batch size to try, the memory comes back
and the next run in the same process completes; auto batch size finds a batch that fits, and a first step that
still runs out of memory halves the batch again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, resource, sys
from ftlab.train import engine
from ftlab.config import RunConfig
from ftlab.runs.run_dir import RunDir

def config(batch, auto=False):
    cfg = RunConfig(task="chat", model=sys.argv[1], method="lora")
    cfg.data.path, cfg.data.val_fraction = "pirate_chat", 0
    cfg.train.max_steps, cfg.train.batch_size, cfg.train.auto_batch_size = 1, batch, auto
    return cfg

engine.setup(config(1))  # load everything once, then cap what the process may add: about 1.5 GB
used = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (used + 1_500_000_000, resource.RLIM_INFINITY))
cases = {"too_big": config(160), "after": config(2), "auto": config(160, auto=True),
         "unprobed": config(160, auto=True)}
results = {}
for name in sys.argv[2:]:
    cfg = cases[name]
    if name == "unprobed":  # no probe: the first step itself runs out of memory and must halve the batch
        engine.batch_fit.fit = lambda cfg, s, run_dir: None
    run = RunDir.create(cfg)
    result = engine.run(cfg, run)
    saved = RunDir(run.id).config().train
    results[name] = {"state": result.state, "error": result.error, "status": run.status(),
                     "saved": {"batch_size": saved.batch_size, "grad_accum": saved.grad_accum}}
print("RESULT " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def outcome(tiny_llama, tmp_path_factory):
    home = tmp_path_factory.mktemp("oom-home")
    env = {**os.environ, "FTLAB_HOME": str(home), "PYTHONPATH": str(ROOT)}
    found = {}
    for cases in (["too_big", "after", "auto"], ["unprobed"]):  # each run leaves the process less address space:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(tiny_llama), *cases], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)  # the unprobed run starts as the first
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
        found.update(json.loads(lines[-1][len("RESULT "):]))
    return found


@pytest.mark.slow
def test_out_of_memory_fails_the_run_with_the_batch_size_to_try(outcome):
    too_big = outcome["too_big"]
    assert too_big["state"] == "failed"
    assert too_big["error"].startswith("out of memory at batch size 160: try 80 or gradient checkpointing")


@pytest.mark.slow  # the child trains three runs under a memory cap
def test_after_out_of_memory_a_new_run_completes(outcome):
    assert outcome["after"]["state"] == "completed", outcome["after"]["error"]


@pytest.mark.slow
def test_auto_batch_size_finds_a_batch_that_fits(outcome):
    auto = outcome["auto"]
    assert auto["state"] == "completed", auto["error"]
    size, accum = auto["status"]["batch_size"], auto["status"]["grad_accum"]
    assert 1 <= size < 160 and size * accum >= 160
    assert auto["status"]["auto_batch"].startswith(f"auto batch size: {size} (asked 160)")
    assert auto["saved"] == {"batch_size": size, "grad_accum": accum}  # what a resume or a rerun will use


@pytest.mark.slow
def test_a_first_step_out_of_memory_with_auto_batch_size_halves_the_batch_and_trains(outcome):
    unprobed = outcome["unprobed"]  # the probe left out: the first training step itself runs out of memory at 160
    assert unprobed["state"] == "completed", unprobed["error"]
    size, accum = unprobed["status"]["batch_size"], unprobed["status"]["grad_accum"]
    assert size < 160 and size * accum == 160
    assert unprobed["status"]["auto_batch"] == f"auto batch size: {size} (asked 160), gradient accumulation {accum}"
    assert unprobed["saved"] == {"batch_size": size, "grad_accum": accum}
