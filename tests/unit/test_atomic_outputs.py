"""Outputs are written whole or not at all and never through a planted link (:mod:`rsmooth.atomic`), and every
run gets a directory of its own (:func:`rsmooth.cli.config.run_id`)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from rsmooth.atomic import atomic_output, write_text_atomic
from rsmooth.cli.config import run_id
from rsmooth.errors import OutputError, ResultsFileError
from rsmooth.results import CertificationRow, ResultsWriter, read_rows
from rsmooth.results.file import meta_path


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n")
    return victim


def test_a_link_at_the_target_is_replaced_never_written_through(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    target = tmp_path / "summary.json"
    target.symlink_to(victim)
    write_text_atomic(target, "{}\n")
    assert victim.read_text() == "precious\n"
    assert not target.is_symlink() and target.read_text() == "{}\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "summary.json"]  # no temporary file left


def test_links_planted_at_every_old_temporary_name_are_left_alone(tmp_path: Path) -> None:
    """The temporary file is created exclusively under a random name: a link at a name a writer once used
    (``X.tmp``, ``.X.<pid>.tmp``) is never opened."""
    victim = _victim(tmp_path)
    target = tmp_path / "r.tsv.meta.json"
    for name in (target.name + ".tmp", f".{target.name}.{os.getpid()}.tmp", f".{target.name}.tmp"):
        (tmp_path / name).symlink_to(victim)
    write_text_atomic(target, "record\n")
    assert victim.read_text() == "precious\n" and target.read_text() == "record\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "table.md"
    target.write_text("old\n")

    class FullDisk(Exception):
        pass

    with pytest.raises(OutputError, match=r"cannot write .*table.md: No space left on device; it was left as it was"):
        with atomic_output(target) as file:
            file.write(b"half of the ne")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]
    with pytest.raises(FullDisk):  # any other error leaves the old file too
        with atomic_output(target) as file:
            file.write(b"x")
            raise FullDisk
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.md"]


def test_an_unwritable_directory_is_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(OutputError, match=r"cannot write .*file/out.png: "):
        write_text_atomic(blocked / "out.png", "x")


def _row(idx: int) -> CertificationRow:
    return CertificationRow(idx, 1, 1, 0.25, True, 0.5, p_lower=0.9, count=90, n=100, norm="l2", noise="g")


def test_a_results_file_that_is_a_link_is_refused_and_its_target_unchanged(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    tsv = tmp_path / "r.tsv"
    tsv.symlink_to(victim)
    with pytest.raises(ResultsFileError, match=r"r.tsv is a symbolic link; results are written only to a regular"):
        ResultsWriter(tsv, {"run": 1})
    assert victim.read_text() == "precious\n" and not meta_path(tsv).exists()


def test_a_link_at_the_provenance_record_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path)
    tsv = tmp_path / "r.tsv"
    meta_path(tsv).symlink_to(victim)
    with ResultsWriter(tsv, {"run": 1}) as writer:
        writer.write(_row(0))
    assert victim.read_text() == "precious\n"
    assert not meta_path(tsv).is_symlink() and [r.idx for r in read_rows(tsv)] == [0]


def test_the_summary_outputs_are_named_after_their_results_file_and_replace_links(tmp_path: Path) -> None:
    from rsmooth.analysis.summary import summarize_file, summary_paths

    victim = _victim(tmp_path)
    for name in ("a", "b"):
        with ResultsWriter(tmp_path / f"{name}.tsv", {"run": name}) as writer:
            writer.write(_row(0))
    assert summary_paths(tmp_path / "a.tsv") == {
        "json": tmp_path / "a.summary.json",
        "md": tmp_path / "a.summary.md",
        "png": tmp_path / "a.png",
    }
    for planted in summary_paths(tmp_path / "a.tsv").values():
        planted.symlink_to(victim)
    summarize_file(tmp_path / "a.tsv", [0.0, 0.25], "l2")
    summarize_file(tmp_path / "b.tsv", [0.0, 0.5], "l2")
    assert victim.read_text() == "precious\n"
    for name, top in (("a", 0.25), ("b", 0.5)):  # two results files in one directory: two summaries
        outputs = summary_paths(tmp_path / f"{name}.tsv")
        assert all(p.is_file() and not p.is_symlink() for p in outputs.values())
        assert f'"tsv": "{tmp_path / f"{name}.tsv"}"' in outputs["json"].read_text()
        assert outputs["md"].read_text().startswith(f"| run | r=0 | r={top:g} | ACR |")
        assert outputs["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_ids_differ_within_one_second_and_are_shared_by_one_launchs_ranks() -> None:
    plain = {run_id({}) for _ in range(1000)}
    assert len(plain) == 1000
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[0-9a-f]{8}", r) for r in plain)
    slurm = {"SLURM_JOB_ID": "812", "SLURM_STEP_ID": "3", "SLURM_PROCID": "0"}
    assert run_id(slurm).endswith("_slurm812.3") and run_id({**slurm, "SLURM_PROCID": "5"}).endswith("_slurm812.3")
    assert run_id({**slurm, "SLURM_JOB_ID": "813"}).endswith("_slurm813.3")
    torchrun = {"TORCHELASTIC_RUN_ID": "none", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500", "RANK": "0"}
    same = run_id({**torchrun, "RANK": "1"})[-8:]
    assert run_id(torchrun)[-8:] == same and run_id({**torchrun, "MASTER_PORT": "29501"})[-8:] != same
