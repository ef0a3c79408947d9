"""Result rows and the results file: safe rounding, exact radii, complete rows, provenance, one writer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import subprocess
import sys
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from rsmooth.analysis import certified_accuracy, load_rows
from rsmooth.errors import ResultsFileError
from rsmooth.results import CertificationRow, ResultsWriter, read_provenance, read_rows
from rsmooth.results.file import merge_parts, meta_path, part_path, parts_dir
from rsmooth.results.rows import columns, format_row, parse_time, round_decimal
from rsmooth.smoothing import select_indices

PROV = {"certification": {"n": 1000, "alpha": 0.001, "seed": 0}, "data": {"name": "fake"}, "rsmooth_version": "x"}


def _row(idx: int, radius: float = 0.123456789, **kw: object) -> CertificationRow:
    base = dict(
        p_lower=0.99,
        count=990,
        count_runner_up=10,
        n=1000,
        norm="l2",
        noise="gaussian(sigma=0.25,norm=l2)",
        certificate="cohen",
        alpha=0.001,
    )
    return CertificationRow(idx, 3, 3, radius, True, 1.5, **{**base, **kw})  # type: ignore[arg-type]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- rounding at the float edges
FLOAT_EDGES = [
    0.6138709999999999,
    0.9999999,
    0.1234569,
    1e-7,
    5e-324,
    0.3,
    2.675,
    0.000001,
    1 - 2**-53,
    math.nextafter(0.25, 0.0),
    0.25,
    123.4567891,
]


@pytest.mark.parametrize("value", FLOAT_EDGES)
def test_written_radius_is_never_above_the_computed_one(value: float) -> None:
    written = round_decimal(value, 6)
    assert Decimal(written) <= Decimal(value)  # exact decimal comparison with the float's binary value
    assert Decimal(value) - Decimal(written) < Decimal("1e-6")
    assert float(written) <= value  # and still below once read back as a float
    line = format_row(_row(0, radius=value, p_lower=value if value < 1 else 0.5))
    assert float(line.split("\t")[3]) <= value


def test_the_old_rounding_bug_is_gone() -> None:
    # math.floor(x * 1e6) / 1e6 wrote 0.613871 for this float, which is above it
    assert round_decimal(0.6138709999999999, 6) == "0.613870"


@pytest.mark.parametrize("value", [0.0012345678999, 0.5, 1e-12, math.nextafter(0.1, 1.0)])
def test_upper_bounds_round_up_and_lower_bounds_down(value: float) -> None:
    assert Decimal(round_decimal(value, 8, up=True)) >= Decimal(value)
    assert Decimal(round_decimal(value, 8)) <= Decimal(value)
    line = format_row(_row(0, p_lower=value, p_upper=value)).split("\t")
    assert Decimal(line[6]) <= Decimal(value) <= Decimal(line[7])


def test_random_floats_never_round_the_wrong_way() -> None:
    rng = np.random.default_rng(0)
    for v in rng.random(20_000) * rng.choice([1e-6, 1e-3, 1, 10], 20_000):
        assert Decimal(round_decimal(float(v), 6)) <= Decimal(float(v)) <= Decimal(round_decimal(float(v), 6, up=True))


# --------------------------------------------------------------------------- exact radii
def test_exact_radius_k_over_q_counts_at_k_over_q(tmp_path: Path) -> None:
    rows = [
        _row(i, radius=k / 255, exact_radius=(k, 255), alpha=0.0, certificate="dssn_exact", norm="l1")
        for i, k in enumerate([3, 1, 0, 7])
    ]
    path = tmp_path / "dssn.tsv"
    with ResultsWriter(path) as w:
        for r in rows:
            w.write(r)
    back = read_rows(path)
    assert back[0].exact_radius == (3, 255) and back[0].radius < 3 / 255  # the decimal column is rounded down …
    assert certified_accuracy(back, [3 / 255, 1 / 255, 0.0, 7 / 255, 8 / 255]) == [0.5, 0.75, 1.0, 0.25, 0.0]
    # … which alone would have missed 3/255; a radius t/q covers every quantized perturbation up to (t+1)/q
    assert not back[0].covers(4 / 255) and back[0].covers(3.5 / 255)


# --------------------------------------------------------------------------- reading
def test_rows_round_trip_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    row = _row(0, p_upper=0.012, extra_radii={"cohen_bilateral": 0.1, "cohen_linf": 0.02})
    with ResultsWriter(path, extra_certificates=["cohen_bilateral", "cohen_linf"]) as w:
        w.write(row)
        w.write(_row(5, radius=0.0, extra_radii={"cohen_bilateral": 0.0, "cohen_linf": 0.0}))
    header = path.read_text().splitlines()[0].split("\t")
    assert header == list(columns(["cohen_bilateral", "cohen_linf"]))
    back = read_rows(path)
    assert [r.idx for r in back] == [0, 5]
    assert back[0].radius == 0.123456 and back[0].count == 990 and back[0].count_runner_up == 10
    assert 0.012 <= back[0].p_upper <= 0.012 + 1e-8 and back[0].extra_radii == {
        "cohen_bilateral": 0.1,
        "cohen_linf": 0.02,
    }
    assert certified_accuracy(back, [0.05], certificate="cohen_linf") == [0.0]
    assert certified_accuracy(back, [0.05], certificate="cohen_bilateral") == [0.5]


def test_a_complete_last_row_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path) as w:
        w.write(_row(0))
        w.write(_row(1))
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert [r.idx for r in read_rows(path)] == [0, 1]
    foreign = tmp_path / "cohen.tsv"
    foreign.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\t0.5\t1\t1.0\n1\t2\t2\t0.25\t1\t1.0")
    assert [r.idx for r in read_rows(foreign)] == [0, 1]


@pytest.mark.parametrize("cut", [2, 5, 17, 40])
def test_a_half_written_last_row_is_discarded_and_redone(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, PROV) as w:
        w.write(_row(0))
        w.write(_row(1))
    complete = path.read_bytes()
    line = format_row(_row(2, radius=0.5)) + "\n"
    path.write_bytes(complete + line[:-cut].encode())  # a crash mid-row: truncated anywhere, even in the crc
    with pytest.warns(UserWarning, match="half-written"):
        assert [r.idx for r in read_rows(path)] == [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ResultsWriter(path, PROV) as w:
            assert w.done == {0, 1}
            w.write(_row(2, radius=0.5))
    assert path.read_bytes() == complete + line.encode()


def test_a_rerun_after_a_cut_at_any_byte_of_the_last_row_gives_the_uninterrupted_file(tmp_path: Path) -> None:
    """A crash or a full disk can stop the last row at any byte, its newline included; the documented rerun
    then ends or redoes that row before appending, so the file equals the uninterrupted run's."""
    whole = tmp_path / "whole.tsv"
    with ResultsWriter(whole, PROV) as w:
        for idx in range(4):
            w.write(_row(idx))
    expected = whole.read_bytes()
    last = (format_row(_row(2)) + "\n").encode()
    before = expected[: expected.index(last)]
    for cut in range(len(last)):  # keep the first `cut` bytes of row 2: none of it … all but its newline
        path = tmp_path / f"cut{cut}.tsv"
        path.write_bytes(before + last[:cut])
        meta_path(path).write_bytes(meta_path(whole).read_bytes())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the half-written row's warning
            with ResultsWriter(path, PROV) as w:
                for idx in sorted({0, 1, 2, 3} - w.done):
                    w.write(_row(idx))
        assert path.read_bytes() == expected, f"cut after {cut} bytes of the last row"


def test_a_corrupt_row_in_the_middle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path) as w:
        w.write(_row(0, radius=0.1))
        w.write(_row(1))
    path.write_text(path.read_text().replace("0.100000", "0.900000"))
    with pytest.raises(ValueError, match=r"r.tsv:2: checksum mismatch"):
        read_rows(path)


def test_analysis_refuses_duplicate_idx_naming_file_and_idx(tmp_path: Path) -> None:
    a = tmp_path / "a.tsv"
    with ResultsWriter(a) as w:
        w.write(_row(7))
    lines = a.read_text().splitlines()
    a.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(ValueError, match=r"a.tsv: idx 7 appears twice"):
        load_rows(a)


def test_reader_accepts_cohen_formats(tmp_path: Path) -> None:
    path = tmp_path / "cohen.tsv"
    path.write_text(
        "idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t3\t0.378\t1\t0:02:31.123456\n20\t7\t-1\t0.0\t0\t15.6\n"
    )
    rows = read_rows(path)
    assert rows[0].time == pytest.approx(151.123456) and rows[1].predict == -1
    assert parse_time("1:00:00") == 3600.0


def test_reader_names_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("foo\tbar\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_rows(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_rows(tmp_path / "missing.tsv")


# --------------------------------------------------------------------------- provenance and resuming
@pytest.mark.parametrize(
    "change, field",
    [
        ({"certification": {"n": 500, "alpha": 0.001, "seed": 0}}, "certification.n"),
        ({"certification": {"n": 1000, "alpha": 0.01, "seed": 0}}, "certification.alpha"),
        ({"certification": {"n": 1000, "alpha": 0.001, "seed": 1}}, "certification.seed"),
        ({"data": {"name": "digits"}}, "data.name"),
        ({"checkpoint": {"sha256": "ab"}}, "checkpoint.sha256"),
    ],
)
def test_resuming_with_other_settings_is_refused_and_changes_nothing(tmp_path: Path, change: dict, field: str) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, PROV) as w:
        w.write(_row(0))
    path.write_bytes(path.read_bytes() + b"1\t3\t3\t0.5")  # a half-written row must survive the refusal too
    before, meta = _sha(path), _sha(path.with_name("r.tsv.meta.json"))
    with pytest.raises(ResultsFileError, match=rf"made with {field}=.* this run has {field}="):
        ResultsWriter(path, {**PROV, **change, "rsmooth_version": "y"})
    assert _sha(path) == before and _sha(path.with_name("r.tsv.meta.json")) == meta


def test_same_settings_resume_and_the_version_may_differ(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, PROV) as w:
        w.write(_row(0))
    assert read_provenance(path) == PROV
    with ResultsWriter(path, {**PROV, "rsmooth_version": "newer"}) as w:
        assert w.done == {0}
        with pytest.raises(ResultsFileError, match="already"):
            w.write(_row(0))
    assert json.loads(path.with_name("r.tsv.meta.json").read_text())["rsmooth_version"] == "x"


def test_a_file_without_provenance_is_not_resumed_by_a_run_with_one(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path) as w:
        w.write(_row(0))
    with pytest.raises(ResultsFileError, match="no provenance record"):
        ResultsWriter(path, PROV)


def test_a_second_writer_is_refused_while_the_first_is_open(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, PROV) as w:
        w.write(_row(0))
        with pytest.raises(ResultsFileError, match="being written by another process"):
            ResultsWriter(path, PROV)
        code = f"from rsmooth.results import ResultsWriter; ResultsWriter({str(path)!r}, {PROV!r})"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert other.returncode != 0 and "being written by another process" in other.stderr
    with ResultsWriter(path, PROV) as w:  # released on close
        assert w.done == {0}


def test_writer_refuses_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(ResultsFileError, match="not a certification TSV"):
        ResultsWriter(path)


# --------------------------------------------------------------------------- rank files of a sharded run
def _write_part(
    path: Path,
    rank: int,
    idxs: list[int],
    prov: dict = PROV,
    time: float = 1.5,  # type: ignore[type-arg]
    **kw: object,
) -> None:
    with ResultsWriter(part_path(path, rank), prov) as w:
        for i in idxs:
            w.write(dataclasses.replace(_row(i, **kw), time=time))


def test_merge_parts_orders_rows_by_idx_and_keeps_each_line_as_written(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, PROV) as w:  # rows of an earlier run, then two ranks' files
        w.write(_row(4))
    _write_part(path, 0, [0, 2, 6])
    _write_part(path, 1, [1, 3, 5], radius=0.987654321)
    lines = {
        ln.split("\t")[0]: ln for p in [path, *parts_dir(path).glob("*.tsv")] for ln in p.read_text().splitlines()[1:]
    }
    assert merge_parts(path, PROV) == 7
    body = path.read_text().splitlines()
    assert body[0] == "\t".join(columns()) and [ln.split("\t")[0] for ln in body[1:]] == [str(i) for i in range(7)]
    assert all(ln == lines[ln.split("\t")[0]] for ln in body[1:])  # byte for byte: crc intact, no re-rounding
    assert not parts_dir(path).exists() and read_provenance(path) == PROV
    assert merge_parts(path, PROV) == 7 and len(read_rows(path)) == 7  # nothing to merge: unchanged


def test_merge_parts_keeps_one_of_two_equal_rows_and_refuses_different_ones(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, PROV) as w:
        w.write(_row(0))
    _write_part(path, 0, [0, 1], time=9.0)  # idx 0 again, another time (a crash between merge and cleanup)
    assert merge_parts(path, PROV) == 2
    _write_part(path, 1, [1], radius=0.5)  # idx 1 again with another radius: never silently chosen
    before = _sha(path)
    with pytest.raises(ResultsFileError, match="idx 1 is in .* with different results"):
        merge_parts(path, PROV)
    assert _sha(path) == before and part_path(path, 1).is_file()


def test_merge_parts_refuses_a_rank_file_of_other_settings_or_still_open(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    _write_part(path, 0, [0], prov={**PROV, "certification": {"n": 500, "alpha": 0.001, "seed": 0}})
    with pytest.raises(
        ResultsFileError,
        match=r"rank0.tsv .* made with certification.n=500 .* this run has "
        r"certification.n=1000",
    ):
        merge_parts(path, PROV)
    part_path(path, 0).unlink()
    with ResultsWriter(part_path(path, 1), PROV) as w:
        w.write(_row(1))
        with pytest.raises(ResultsFileError, match="rank1.tsv is being written by another process"):
            merge_parts(path, PROV)
    assert merge_parts(path, PROV) == 1


def test_select_indices_follows_cohen_skip_and_max() -> None:
    assert select_indices(10000, skip=20, max_count=500)[:3] == [0, 20, 40]
    assert len(select_indices(10000, skip=20, max_count=500)) == 500
    assert select_indices(10, start=3, end=8, skip=2) == [3, 5, 7]
    assert select_indices(5, end=-1, max_count=-1) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="skip"):
        select_indices(5, skip=0)


def test_weights_digest_follows_the_weights_and_nothing_else() -> None:
    import torch
    from torch import nn

    from rsmooth.results.provenance import weights_digest

    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))  # BatchNorm has a 0-dim int64 buffer

    a, b = net(), net()
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():
        b[0].weight[0, 0, 0, 0] += 1e-7
    assert weights_digest(a) != weights_digest(b)
    b = net()
    b[1].num_batches_tracked += 1
    assert weights_digest(a) != weights_digest(b)


RECORD = {
    "certification": {"mode": "monte_carlo", "n0": 100, "n": 1000, "alpha": 0.001, "seed": 0},
    "noise": {"_target_": "rsmooth.noise.gaussian.GaussianNoise", "sigma": 0.25, "norm": "l2"},
    "row_noise": "gaussian(sigma=0.25,norm=l2)",
    "certificates": [{"name": "cohen", "norm": "l2", "failure_probability": 0.001}],
}


@pytest.mark.parametrize(
    "foreign, column",
    [
        ({"certification": {**RECORD["certification"], "n": 100000}}, "n=1000 but its provenance record"),
        ({"row_noise": "gaussian(sigma=0.5,norm=l2)"}, "noise='gaussian(sigma=0.25,norm=l2)'"),
        ({"certificates": [{"name": "cohen_linf", "norm": "linf", "failure_probability": 0.001}]}, "certificate="),
        ({"certificates": [{"name": "cohen", "norm": "l2", "failure_probability": 0.002}]}, "alpha=0.001"),
        (
            {"certificates": [*RECORD["certificates"], {"name": "tv", "norm": "l2", "failure_probability": 0.001}]},
            "extra certificates=[]",
        ),
        ({"certification": {**RECORD["certification"], "mode": "sequential", "n": 500}}, "used n=1000 samples"),
    ],
)
def test_every_reader_checks_the_rows_against_their_record(tmp_path: Path, foreign: dict, column: str) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, RECORD) as w:
        w.write(_row(0))
        w.write(_row(1))
    assert [r.idx for r in read_rows(path)] == [0, 1]  # negative control: its own record passes
    meta_path(path).write_text(json.dumps({**RECORD, **foreign}))  # a record copied from another run
    before = _sha(path)
    with pytest.raises(ResultsFileError, match=r"r.tsv: the row of idx 0 .*" + re.escape(column)):
        read_rows(path)
    with pytest.raises(ResultsFileError, match="the record belongs to another run"):
        ResultsWriter(path, {**RECORD, **foreign})  # nor is it resumed
    assert _sha(path) == before
