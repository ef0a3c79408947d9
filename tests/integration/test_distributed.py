"""Sharded certification as users launch it: torchrun and srun on CPU (gloo), a rank killed and restarted.

The merged file must hold exactly the rows of one process (each example's noise comes from (seed, idx)):
same idx set, no duplicates, the same predictions, counts and radii; only the time column differs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.results import read_rows
from rsmooth.results.file import parts_dir
from tests.integration.fixtures import certify_overrides, result_fields


def _results(tsv: Path) -> list[tuple]:  # type: ignore[type-arg]
    return result_fields(read_rows(tsv))


@pytest.fixture(scope="module")
def one_process(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:  # type: ignore[type-arg]
    """The rows of one process over the 24 test images at n = 2 000 (the reference for every launch)."""
    tsv = tmp_path_factory.mktemp("one") / "one.tsv"
    certify(compose("certify", certify_overrides(checkpoint, tsv, n=2000)))
    rows = _results(tsv)
    assert [r[0] for r in rows] == list(range(24))
    return rows


def _torchrun(ranks: int, overrides: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={ranks}",
        "-m",
        "rsmooth.certify",
        *overrides,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def test_a_rank_killed_mid_run_restarts_without_losing_or_duplicating_rows(
    checkpoint: Path,
    one_process: list,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    tsv = tmp_path / "killed.tsv"
    cmd = _torchrun(
        2, certify_overrides(checkpoint, tsv, n=2000) + ["certification.batch_size=2", "certification.group_size=1"]
    )
    agent = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    part = parts_dir(tsv) / "rank1.tsv"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for rank 1 to have written a few rows
        if part.exists() and len(part.read_text().splitlines()) >= 3:
            break
        if agent.poll() is not None:
            pytest.fail(f"torchrun exited early: {agent.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    workers = _children(agent.pid)
    assert len(workers) == 2, workers
    os.kill(max(workers), signal.SIGKILL)  # one rank dies; torchrun then stops the other
    assert agent.wait(timeout=120) != 0
    written = sum(len(read_rows(p)) for p in parts_dir(tsv).glob("rank*.tsv"))
    assert 2 <= written < 24, "the kill must land mid-run"
    done = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _results(tsv) == one_process
    assert (
        f"resumed: {written} examples were already in the file" in done.stdout
    )  # the killed run's rows were kept, not redone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # the same merge as torchrun's (tested by default); the srun variables: test_launcher_ranks.py
def test_srun_style_ranks_write_the_rows_of_one_process(checkpoint: Path, one_process: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    """srun starts the processes itself and names them in SLURM_* variables; the job script exports
    MASTER_ADDR/MASTER_PORT. Three ranks here: the split does not change the rows either."""
    tsv = tmp_path / "srun.tsv"
    procs = _srun_style(3, certify_overrides(checkpoint, tsv, n=2000), tmp_path)
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert _results(tsv) == one_process


def test_srun_without_master_address_is_one_line(checkpoint: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in _env().items() if k not in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE")}
    env |= {"SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"}
    run = subprocess.run(
        [sys.executable, "-m", "rsmooth.certify", *certify_overrides(checkpoint, tmp_path / "x.tsv")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "rsmooth-certify: error: 2 ranks announced but MASTER_ADDR and MASTER_PORT not set: under srun, export "
        "MASTER_ADDR (the first node's host name) and MASTER_PORT (a free port) in the job script"
    ]


def _srun_style(ranks: int, overrides: list[str], cwd: Path) -> list[subprocess.Popen]:  # type: ignore[type-arg]
    """``ranks`` processes started as srun starts them (no agent to stop the others when one fails)."""
    port = str(_free_port())
    procs = []
    for rank in range(ranks):
        env = {k: v for k, v in _env().items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        env |= {
            "SLURM_PROCID": str(rank),
            "SLURM_STEP_NUM_TASKS": str(ranks),
            "SLURM_LOCALID": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "rsmooth.certify", *overrides],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def test_rank_files_of_other_settings_stop_every_rank_with_one_line(checkpoint: Path, tmp_path: Path) -> None:
    """Rank 0 refuses the merge; the others hear why from it instead of waiting at a barrier (srun-style
    ranks: no torchrun agent would stop them)."""
    from rsmooth.results import ResultsWriter
    from rsmooth.results.file import part_path

    tsv = tmp_path / "other.tsv"
    with ResultsWriter(part_path(tsv, 0), {"certification": {"n": 5}}):
        pass
    procs = _srun_style(2, certify_overrides(checkpoint, tsv), tmp_path)
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [2, 2]
    for _, err in outs:
        assert err.strip().splitlines()[-1].startswith("rsmooth-certify: error: ")
        assert "rank0.tsv (a rank's rows for other.tsv) was made with certification.mode=" in err
    assert not tsv.exists() or read_rows(tsv) == []


def test_same_config_and_seed_give_byte_identical_files_across_batches_resumes_and_ranks(
    checkpoint: Path, tmp_path: Path
) -> None:
    """certification.record_time=false: the TSV is a function of config and seed alone."""

    def overrides(name: str, *more: str) -> list[str]:
        return certify_overrides(checkpoint, tmp_path / name, n=500) + ["certification.record_time=false", *more]

    certify(compose("certify", overrides("a.tsv")))
    certify(compose("certify", overrides("b.tsv", "certification.batch_size=37", "certification.group_size=1")))
    certify(compose("certify", overrides("c.tsv", "certification.max=9")))  # stopped after 9 rows ...
    certify(compose("certify", overrides("c.tsv", "certification.batch_size=64")))  # ... resumed with other batches
    run = subprocess.run(
        _torchrun(2, overrides("d.tsv")), cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # torchrun: rank 0 merged the ranks' files (and removed them), drew the plot and printed the table of every row
    assert not parts_dir(tmp_path / "d.tsv").exists() and (tmp_path / "d.png").is_file()
    assert f"rank 1: certified 12 new examples; rank 0 merged them into {tmp_path / 'd.tsv'}" in run.stdout
    assert "certified accuracy of 24 examples (l2 radius, α = 0.001)" in run.stdout
    a = (tmp_path / "a.tsv").read_bytes()
    assert len(a.splitlines()) == 25 and b"\t0.000000\t" in a
    assert [(tmp_path / f"{k}.tsv").read_bytes() == a for k in "bcd"] == [True, True, True]
    # a file made with recorded times is not resumed without them (its rows would mix the two)
    certify(compose("certify", certify_overrides(checkpoint, tmp_path / "e.tsv", n=500) + ["certification.max=3"]))
    from rsmooth.errors import ResultsFileError

    with pytest.raises(ResultsFileError, match="certification.record_time"):
        certify(compose("certify", overrides("e.tsv")))
