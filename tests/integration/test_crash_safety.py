"""rsmooth-train killed with SIGKILL at random points, restarted by re-running the same command, finishes
with what an uninterrupted run gives: the same weights and a byte-identical certify.tsv (no lost,
duplicated or half-written row). Checkpoints are written atomically."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rsmooth.results import read_rows
from rsmooth.training import AtomicCheckpointIO


def _command(out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "rsmooth.train",
        "data=fake",
        "model=digits_cnn",
        "data.num_classes=4",
        "data.input_shape=[1,8,8]",
        "data.train_size=2048",
        "data.test_size=24",
        "data.batch_size=16",
        "trainer.max_epochs=6",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "logger=csv",
        "callbacks.certify.every_n_epochs=1",
        "callbacks.certify.settings.max=4",
        "callbacks.certify.settings.n=50",
        "callbacks.certify.settings.n0=10",
        "certification.n0=50",
        "certification.n=4000",
        "certification.batch_size=500",
        "certification.progress=false",
        "certification.record_time=false",
        "resume_from=auto",
        f"paths.output_dir={out}",
        f"hydra.run.dir={out}",
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _last_epoch(out: Path) -> int:
    last = out / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return -1
    try:
        return int(torch.load(last, map_location="cpu", weights_only=True)["epoch"])
    except Exception:
        return -1


def _run_until_killed(out: Path, ready, delay: float) -> None:  # type: ignore[no-untyped-def]
    """Start the command, wait until ``ready()``, then ``delay`` seconds more, SIGKILL it."""
    proc = subprocess.Popen(
        _command(out), cwd=out.parent, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 300
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"rsmooth-train ended before the kill: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        if time.time() > deadline:
            proc.kill()
            pytest.fail("rsmooth-train never reached the kill point")
        time.sleep(0.02)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow  # four training processes (~60 s); resuming training stays in the default suite via test_checkpoints
def test_training_killed_twice_finishes_with_the_uninterrupted_runs_weights_and_rows(tmp_path: Path) -> None:
    rng = random.Random(20261130)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for out in (whole, killed):
        out.mkdir()
    done = subprocess.run(_command(whole), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    # 1: during training, after the first epoch's checkpoint; 2: during the final certification
    # (an epoch takes ~0.4 s here: the first kill lands somewhere in epochs 1-3 of 6, mid-epoch or mid-save)
    _run_until_killed(killed, lambda: (killed / "checkpoints" / "last.ckpt").is_file(), rng.uniform(0.0, 1.0))
    assert 0 <= _last_epoch(killed) < 5
    assert not (killed / "certify.tsv").exists(), "the first kill must land during training"
    tsv = killed / "certify.tsv"
    _run_until_killed(killed, lambda: tsv.is_file() and len(tsv.read_bytes().splitlines()) >= 4, rng.uniform(0.0, 0.3))
    partial = len(read_rows(tsv))
    assert 3 <= partial < 24, "the second kill must land during certification"
    again = subprocess.run(_command(killed), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]

    def weights(out: Path) -> dict[str, torch.Tensor]:
        return torch.load(out / "checkpoints" / "final.ckpt", map_location="cpu", weights_only=True)["state_dict"]

    a, b = weights(whole), weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # the same training, bit for bit
    assert (killed / "certify.tsv").read_bytes() == (whole / "certify.tsv").read_bytes()
    assert [r.idx for r in read_rows(tsv)] == list(range(24))


def test_a_checkpoint_save_that_dies_midway_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "ckpts" / "last.ckpt"
    io.save_checkpoint({"epoch": 1, "w": torch.ones(3)}, path)

    def dies_midway(obj: object, f, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"epoch": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 1  # the previous checkpoint, whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]  # no temporary file left behind
