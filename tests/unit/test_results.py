from pathlib import Path

import pytest

from rsmooth.certify.results import (
    COLUMNS,
    CertificationRow,
    ResultsWriter,
    floor_decimals,
    format_row,
    parse_time,
    read_rows,
    select_indices,
)


def _row(idx: int, radius: float = 0.123456789, noise: str = "gaussian(sigma=0.25,norm=l2)") -> CertificationRow:
    return CertificationRow(idx, 3, 3, radius, True, 1.5, 0.99, 990, 1000, "l2", noise)


def test_radius_is_rounded_down_never_up() -> None:
    assert floor_decimals(0.1234569, 6) == 0.123456
    line = format_row(_row(0, radius=0.9999999))
    assert line.split("\t")[3] == "0.999999"
    assert float(line.split("\t")[3]) <= 0.9999999


def test_rows_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path) as w:
        w.write(_row(0))
        w.write(_row(5, radius=0.0))
    rows = read_rows(path)
    assert path.read_text().splitlines()[0].split("\t") == list(COLUMNS)
    assert [r.idx for r in rows] == [0, 5]
    assert rows[0].radius == 0.123456 and rows[0].count == 990 and rows[0].noise.startswith("gaussian")


def test_writer_resumes_and_drops_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path) as w:
        w.write(_row(0))
        w.write(_row(1))
    with path.open("a") as f:
        f.write("2\t3\t3\t0.5")  # a crash mid-row
    with ResultsWriter(path) as w:
        assert w.done == {0, 1}
        w.write(_row(2))
        with pytest.raises(ValueError, match="already"):
            w.write(_row(1))
    assert [r.idx for r in read_rows(path)] == [0, 1, 2]


def test_writer_refuses_to_mix_noise_distributions(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with ResultsWriter(path, noise="gaussian(sigma=0.25,norm=l2)") as w:
        w.write(_row(0))
    with pytest.raises(ValueError, match="certified with noise"):
        ResultsWriter(path, noise="gaussian(sigma=0.5,norm=l2)")


def test_writer_refuses_a_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    path.write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match="not an rsmooth results file"):
        ResultsWriter(path)


def test_reader_accepts_cohen_formats(tmp_path: Path) -> None:
    path = tmp_path / "cohen.tsv"
    path.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t3\t3\t0.378\t1\t0:02:31.123456\n20\t7\t-1\t0.0\t0\t15.6\n")
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


def test_select_indices_follows_cohen_skip_and_max() -> None:
    assert select_indices(10000, skip=20, max_count=500)[:3] == [0, 20, 40]
    assert len(select_indices(10000, skip=20, max_count=500)) == 500
    assert select_indices(10, start=3, end=8, skip=2) == [3, 5, 7]
    assert select_indices(5, end=-1, max_count=-1) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="skip"):
        select_indices(5, skip=0)
