"""A library leaves its host alone: ``import rsmooth`` (and using it) changes no environment variable,
thread count or allocator setting; the entry points, which own their process, tune it explicitly
(:func:`rsmooth.smoothing.cpu.tune_process`). Each check runs in a fresh interpreter and can fail: the
negative controls show the same probe seeing the change that ``tune_process`` makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rsmooth.smoothing.cpu import ENV_SWITCH, keep_freed_memory

ROOT = Path(__file__).resolve().parents[2]

#: the state a library must not change: environment, torch's thread count, and whether glibc serves a
#: 64 MiB request with mmap (its default; ``mallopt(M_MMAP_MAX, 0)`` turns that off)
PROBE = """
import ctypes, json, os, sys
import torch

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2

def state():
    already = libc.mallinfo2().hblks
    block = libc.malloc(64 * 2**20)
    mapped = libc.mallinfo2().hblks - already  # 1 if glibc mmapped the block, 0 if it came from the heap
    libc.free(block)
    return {"environ": dict(os.environ), "threads": torch.get_num_threads(), "mmapped_blocks": mapped}

torch.set_num_threads(2)
before = state()
exec(sys.argv[1])
print(json.dumps([before, state()]))
"""

#: import the library's core and certify an input, as a script or notebook would
USE_THE_LIBRARY = """
import rsmooth, rsmooth.analysis, rsmooth.loading, rsmooth.results
from rsmooth import GaussianNoise, Smooth
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
Smooth(net, GaussianNoise(0.25), 10).certify(torch.rand(1, 8, 8), 100, 2000, 0.001, 500)
"""
#: the Lightning and Hydra layers: what they change must be what importing Lightning alone changes
LIGHTNING_LAYERS = "import rsmooth.training, rsmooth.callbacks, rsmooth.cli.train, rsmooth.cli.certify"

glibc = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallinfo2 and mallopt are glibc's")


def probe(code: str, env: dict[str, str] | None = None) -> tuple[dict, dict]:  # type: ignore[type-arg]
    run = subprocess.run(
        [sys.executable, "-c", PROBE, code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env or {k: v for k, v in os.environ.items() if k != ENV_SWITCH},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    before, after = json.loads(run.stdout.strip().splitlines()[-1])
    return before, after


@glibc
def test_importing_and_using_rsmooth_changes_nothing_in_the_host_process() -> None:
    before, after = probe(USE_THE_LIBRARY)
    assert before["mmapped_blocks"] == 1  # glibc's default: a 64 MiB block is mmapped
    assert after == before


def test_the_lightning_layers_change_only_what_lightning_itself_changes() -> None:
    lightning_before, lightning_after = probe("import pytorch_lightning")
    ours_before, ours_after = probe(LIGHTNING_LAYERS)
    changed = {k for k in ours_after["environ"] if ours_after["environ"].get(k) != ours_before["environ"].get(k)}
    by_lightning = {
        k for k in lightning_after["environ"] if lightning_after["environ"].get(k) != lightning_before["environ"].get(k)
    }
    assert changed <= by_lightning, changed - by_lightning
    assert ours_after["threads"] == ours_before["threads"]
    assert ours_after["mmapped_blocks"] == ours_before["mmapped_blocks"]


@glibc
def test_the_probe_sees_what_tune_process_changes() -> None:
    """Negative control: the same probe, after the tuning the entry points do, sees the allocator change."""
    before, after = probe("from rsmooth.smoothing.cpu import tune_process; tune_process()")
    assert before["mmapped_blocks"] == 1 and after["mmapped_blocks"] == 0
    assert after["threads"] == before["threads"] == 2  # the noise threads leave the caller's count alone


def test_the_entry_points_tune_the_process_they_own(tmp_path: Path) -> None:
    # rsmooth-certify's job replaced by a probe: the process is tuned by the time the job runs, not at import
    code = (
        f"import sys; sys.argv = ['rsmooth-certify', 'checkpoint=x', 'hydra.run.dir={tmp_path}']\n"
        "from rsmooth.smoothing import cpu\n"
        "import rsmooth.cli.certify as job\n"
        "from rsmooth.cli import launch\n"
        "print(cpu.process_noise_threads() is not None)\n"
        "job.certify = lambda cfg: print(cpu.process_noise_threads() is not None)\n"
        "launch.certify()"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "True"]


FAULTS_PER_FORWARD = """
import resource, sys, torch
from rsmooth.models.small import DigitsCNN
from rsmooth.smoothing.cpu import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "tuned" else False
torch.manual_seed(0)
model, x = DigitsCNN().eval(), torch.rand(1000, 1, 8, 8)
with torch.inference_mode():
    for _ in range(3):
        model(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        model(x)
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def faults_per_forward(mode: str) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k != ENV_SWITCH}
    out = subprocess.run(
        [sys.executable, "-c", FAULTS_PER_FORWARD, mode], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], float(out[1])


@glibc
def test_a_tuned_process_reuses_freed_memory() -> None:
    """A ratio measured in one test, not an absolute count: on a loaded machine the kernel may still take back a
    few hundred of the kept pages, while glibc's defaults give back and fault every buffer of every pass."""
    applied, faults = faults_per_forward("tuned")
    plain_applied, plain_faults = faults_per_forward("plain")
    assert (applied, plain_applied) == ("True", "False")
    assert faults * 10 < plain_faults, f"{faults} page faults per forward pass, {plain_faults} with glibc's defaults"
    # negative control: the count can fail, glibc's defaults fault thousands of pages in the same pass
    assert plain_faults > 1000, f"only {plain_faults} page faults per forward pass with glibc's defaults"


def test_the_switch_reads_off_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("0", "off", "False"):
        monkeypatch.setenv(ENV_SWITCH, value)
        assert keep_freed_memory() is False
