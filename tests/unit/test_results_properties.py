"""Property test of the results file: a file is finished or refused, never fused.

Hypothesis draws interleavings of runs (each resuming, writing some rows, and maybe killed at any byte of
what it appended — a kill, a full disk, a power cut), random byte damage to the TSV or its provenance record,
and a second writer trying to open the file while a run holds it. After every step:

* every file rsmooth accepts (a reader, or a resuming writer) holds rows equal to the uninterrupted run's,
  time aside, each idx once, in order;
* every file it refuses is left byte-identical (TSV and record);
* a file that was never damaged is always accepted, and the final rerun completes it to the uninterrupted
  run's rows.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rsmooth.errors import ResultsFileError
from rsmooth.results import CertificationRow, ResultsWriter, read_rows
from rsmooth.results.file import meta_path
from rsmooth.results.rows import format_row, parse_file

ROWS = 6
RECORD = {
    "certification": {"mode": "monte_carlo", "n0": 100, "n": 1000, "alpha": 0.001, "seed": 0},
    "noise": {"_target_": "rsmooth.noise.gaussian.GaussianNoise", "sigma": 0.25, "norm": "l2"},
    "row_noise": "gaussian(sigma=0.25,norm=l2)",
    "certificates": [{"name": "cohen", "norm": "l2", "failure_probability": 0.001}],
}


def row(idx: int, seconds: float) -> CertificationRow:
    """Example idx of the run; every fourth abstains. ``seconds`` differs between runs (time aside)."""
    abstains = idx % 4 == 3
    return CertificationRow(
        idx,
        label=idx % 3,
        predict=-1 if abstains else idx % 3,
        radius=0.0 if abstains else 0.1 + idx / 7,
        correct=not abstains,
        time=seconds,
        p_lower=0.5 if abstains else 0.9 - idx / 100,
        count=500 + idx,
        count_runner_up=400 - idx,
        n=1000,
        norm="l2",
        noise="gaussian(sigma=0.25,norm=l2)",
        certificate="cohen",
        alpha=0.001,
    )


def without_time(line: str) -> str:
    """A written row as its bytes but the time column (index 5, which the crc leaves out)."""
    fields = line.split("\t")
    del fields[5]
    return "\t".join(fields)


UNINTERRUPTED = [without_time(format_row(row(i, 0.0))) for i in range(ROWS)]


def written(path: Path) -> list[str]:
    """The rows of an accepted file as written, time aside."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [without_time(line) for line in parse_file(path).lines]


class Files:
    """The results file under test, and the bytes of it and its record."""

    def __init__(self, directory: Path) -> None:
        self.tsv = directory / "r.tsv"

    def snapshot(self) -> tuple[bytes | None, bytes | None]:
        meta = meta_path(self.tsv)
        return (
            self.tsv.read_bytes() if self.tsv.exists() else None,
            meta.read_bytes() if meta.exists() else None,
        )


def check_reader(files: Files, damaged: bool) -> None:
    """A reader accepts only the uninterrupted rows (a prefix of them), or refuses; undamaged, it accepts."""
    if not files.tsv.exists():
        return
    before = files.snapshot()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a half-written last line is reported, and ignored
            rows = read_rows(files.tsv)
    except ResultsFileError:
        assert damaged, "an undamaged file was refused"
        assert files.snapshot() == before
        return
    assert [r.idx for r in rows] == list(range(len(rows)))
    assert written(files.tsv) == UNINTERRUPTED[: len(rows)]


def run(files: Files, count: int, cut: float | int | None, seconds: float, second_writer: bool) -> bool:
    """One run resuming the file: writes its next ``count`` rows (a second writer trying to open the file
    meanwhile), then maybe is cut: at fraction ``cut`` (a float) of the bytes it appended, or ``cut`` (an int)
    bytes before their end (1: the last newline only). False when refused."""
    before = files.snapshot()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            writer = ResultsWriter(files.tsv, RECORD)
    except ResultsFileError:
        assert files.snapshot() == before, "a refused resume changed the file"
        return False
    with writer:
        start = files.tsv.stat().st_size
        todo = [i for i in range(ROWS) if i not in writer.done][:count]
        for i in todo[: len(todo) // 2]:
            writer.write(row(i, seconds))
        if second_writer:
            during = files.snapshot()
            try:
                ResultsWriter(files.tsv, RECORD)
            except ResultsFileError as err:
                assert "being written by another process" in str(err)
            else:
                raise AssertionError("a second writer was let in")
            assert files.snapshot() == during
        for i in todo[len(todo) // 2 :]:
            writer.write(row(i, seconds))
    if cut is not None:
        end = files.tsv.stat().st_size
        keep = start + int(cut * (end - start)) if isinstance(cut, float) else max(start, end - cut)
        with open(files.tsv, "r+b") as f:  # killed (or out of disk) partway: any prefix of what it appended
            f.truncate(keep)
    return True


def damage(files: Files, target: str, position: float, value: int) -> bool:
    """Set one byte of the TSV or the record; True when a byte changed."""
    path = files.tsv if target == "tsv" else meta_path(files.tsv)
    if not path.exists() or path.stat().st_size == 0:
        return False
    data = bytearray(path.read_bytes())
    at = min(int(position * len(data)), len(data) - 1)
    if data[at] == value:
        return False
    data[at] = value
    path.write_bytes(bytes(data))
    return True


STEP = st.one_of(
    st.tuples(
        st.just("run"),
        st.integers(1, ROWS),
        st.one_of(st.none(), st.floats(0, 1), st.integers(0, 3)),
        st.booleans(),
    ),
    st.tuples(st.just("damage"), st.sampled_from(["tsv", "meta"]), st.floats(0, 1), st.integers(0, 255)),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=6))
# always tried: a kill between a row and its newline, then the rerun (a resume that appended onto the unended
# row fused two rows into one line); damage to a setting in the record; a second writer during a run
@example(steps=[("run", 2, 1, False), ("run", 2, None, False)])
@example(steps=[("run", 3, None, True), ("damage", "meta", 0.18, ord("2")), ("run", 3, None, False)])
def test_a_results_file_is_finished_or_refused_never_fused(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as directory:
        files = Files(Path(directory))
        damaged = False
        for number, step in enumerate(steps, start=1):
            if step[0] == "run":
                _, count, cut, second = step
                accepted = run(files, count, cut, seconds=float(number), second_writer=second)
                assert accepted or damaged, "an undamaged file was refused"
            else:
                _, target, position, value = step
                damaged |= damage(files, target, position, value)
            check_reader(files, damaged)
        # the documented recovery: rerun the same command until it is done
        before = files.snapshot()
        if run(files, ROWS, None, seconds=99.0, second_writer=False):
            assert [r.idx for r in read_rows(files.tsv)] == list(range(ROWS))
            assert written(files.tsv) == UNINTERRUPTED
            assert files.tsv.read_bytes().endswith(b"\n")
        else:
            assert damaged and files.snapshot() == before
