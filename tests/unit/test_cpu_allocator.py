"""``import rsmooth`` keeps freed CPU memory for reuse (rsmooth.cpu_allocator): counted in page faults,
not timed. A forward pass of the digits CNN at batch 1 000 allocates ~8 MiB activations; with glibc's
defaults they land on fresh pages every pass (thousands of faults), with the setting on almost none."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import rsmooth
from rsmooth.cpu_allocator import ENV_SWITCH, keep_freed_memory

FAULTS_PER_FORWARD = """
import resource, torch
import rsmooth
from rsmooth.models.small import DigitsCNN
torch.manual_seed(0)
model, x = DigitsCNN().eval(), torch.rand(1000, 1, 8, 8)
with torch.inference_mode():
    for _ in range(3):
        model(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        model(x)
print(rsmooth.KEEPS_FREED_MEMORY, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""

glibc_only = pytest.mark.skipif(not sys.platform.startswith("linux") or not rsmooth.KEEPS_FREED_MEMORY,
                                reason="mallopt is glibc's")


def faults_per_forward(switch: str | None) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k != ENV_SWITCH}
    if switch is not None:
        env[ENV_SWITCH] = switch
    out = subprocess.run([sys.executable, "-c", FAULTS_PER_FORWARD], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], float(out[1])


@glibc_only
def test_a_forward_pass_reuses_freed_memory() -> None:
    applied, faults = faults_per_forward(None)
    assert applied == "True"
    assert faults < 100, f"{faults} page faults per forward pass"


@glibc_only
def test_the_opt_out_keeps_glibc_defaults_which_fault_every_pass() -> None:
    """Negative control: the count above can fail — with glibc's defaults the same pass faults thousands of pages."""
    applied, faults = faults_per_forward("0")
    assert applied == "False"
    assert faults > 1000, f"only {faults} page faults per forward pass with glibc's defaults"


def test_the_switch_reads_off_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("0", "off", "False"):
        monkeypatch.setenv(ENV_SWITCH, value)
        assert keep_freed_memory() is False
