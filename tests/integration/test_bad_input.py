"""The bad-input matrix: every entry point, every kind of mistake in a config field, plus a full disk.

Each mistake must end as one line ``<prog>: error: <message naming the field>`` on stderr and exit status 2,
before any model, data or results file is touched (the structured configs of :mod:`rsmooth.cli.schema`).
"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from rsmooth.cli.analyze import analyze
from rsmooth.cli.attack import attack
from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.cli.errors import run_reporting_errors
from rsmooth.cli.train import train
from rsmooth.errors import ConfigError, ResultsFileError
from rsmooth.results import CertificationRow, ResultsWriter, read_rows

#: mistakes in the certification group, shared by rsmooth-train and rsmooth-certify: (override, named in the message)
CERTIFICATION = [
    ("certification.alpha=0.7", "certification.alpha must be in (0, 0.5), got 0.7"),
    ("certification.alpha=abc", "certification.alpha must be a number, got 'abc'"),
    ("certification.n=0", "certification.n must be an integer >= 1, got 0"),
    ("certification.n=1.5", "certification.n must be an integer, got 1.5"),
    ("certification.n0=abc", "certification.n0 must be an integer, got 'abc'"),
    ("certification.batch_size=-5", "certification.batch_size must be an integer >= 1, got -5"),
    ("certification.skip=0", "certification.skip must be an integer >= 1, got 0"),
    ("certification.start=-1", "certification.start must be an integer >= 0, got -1"),
    ("certification.end=abc", "certification.end must be an integer, got 'abc'"),
    ("certification.max=0", "certification.max must be -1 (no limit) or an integer >= 1, got 0"),
    ("certification.seed=-1", "certification.seed must be an integer >= 0, got -1"),
    ("certification.group_size=zero", "certification.group_size must be auto or an integer >= 1, got 'zero'"),
    ("certification.mode=fast", "certification.mode must be fixed or sequential, got 'fast'"),
    ("certification.precision=fp8", "certification.precision must be null, fp32, bf16 or fp16, got 'fp8'"),
    ("certification.device=tpu", "certification.device must be auto, cpu, cuda or cuda:N"),
    ("certification.progress=maybe", "certification.progress must be true or false, got 'maybe'"),
    ("certification.record_time=2", "certification.record_time must be true or false, got 2"),
    ("certification.channels_last=yes please", "certification.channels_last must be true or false"),
    ("certification.radii=abc", "certification.radii must be a list of numbers, got 'abc'"),
    ("certification.radii=[0,-1]", "certification.radii must be a list of finite numbers >= 0, got [0.0, -1.0]"),
    ("certification.radii=[0,inf]", "certification.radii must be a list of finite numbers >= 0, got [0.0, inf]"),
    ("certification.sequential.radii=[nan]", "certification.sequential.radii must be a list of finite numbers >= 0"),
    ("certification.extra_certificates=nope", "certification.extra_certificates must be a list of strings, got 'nope'"),
    ("certification.sequential.growth=1", "certification.sequential.growth must be a number > 1, got 1.0"),
    ("certification.sequential.futility=2", "certification.sequential.futility must be in (0, 0.5), got 2.0"),
    ("+certification.nn=5", "certification.nn is not a setting here (known: n0, n, alpha"),
    ("+certification.sequentail.first=5", "did you mean certification.sequential?"),
]

TRAIN = [
    ("seed=-3", "seed must be an integer >= 0, got -3"),
    ("seed=abc", "seed must be an integer, got 'abc'"),
    ("trusted_modules=mypkg", "trusted_modules must be a list of strings, got 'mypkg'"),
    *CERTIFICATION,
]
CERTIFY = [
    ("seed=abc", "seed must be an integer, got 'abc'"),
    ("checkpoint=[a,b]", "checkpoint must be null or a string"),
    *CERTIFICATION,
]
ANALYZE = [
    ("max_radius=0", "max_radius must be a number > 0, got 0.0"),
    ("radius_step=abc", "radius_step must be a number, got 'abc'"),
    ("norm=l3", "norm must be null, l1, l2 or linf, got 'l3'"),
    ("alpha=1", "alpha must be in (0, 0.5), got 1.0"),
    ("formats=[gif]", "formats must be a list of png, svg, pdf, got ['gif']"),
    ("envelope=perhaps", "envelope must be true or false, got 'perhaps'"),
    ("radii=[0.5,-1]", "radii must be a list of finite numbers >= 0"),
    ("radii=[0.5,inf]", "radii must be a list of finite numbers >= 0, got [0.5, inf]"),
    ("linf_over_dimension.p=0.2", "linf_over_dimension.p must be in (0.5, 1), got 0.2"),
]
ATTACK = [
    ("attack.steps=0", "attack.steps must be an integer >= 1, got 0"),
    ("attack.norm=l7", "attack.norm must be null, l1, l2 or linf, got 'l7'"),
    ("attack.samples=x", "attack.samples must be an integer, got 'x'"),
    ("predict.alpha=0.9", "predict.alpha must be in (0, 0.5), got 0.9"),
    ("predict.n=1e4", None),  # an integral float is an integer: accepted (then the missing checkpoint is named)
    ("radii=[-0.1]", "radii must be a list of finite numbers >= 0"),
    ("radii=[nan]", "radii must be a list of finite numbers >= 0"),
    ("max=0", "max must be null (all) or an integer >= 1, got 0"),
    ("device=gpu0", "device must be auto, cpu, cuda or cuda:N"),
]

ENTRY: dict[str, tuple[str, Callable[[Any], Any], list[str]]] = {
    "rsmooth-train": ("train", train, ["trainer.accelerator=cpu", "logger=csv"]),
    "rsmooth-certify": ("certify", certify, ["checkpoint=/nonexistent/never-read.ckpt"]),
    "rsmooth-analyze": ("analyze", analyze, ["inputs=/nonexistent/never-read.tsv"]),
    "rsmooth-attack": ("attack", attack, ["checkpoint=/nonexistent/never-read.ckpt"]),
}
CASES = [
    (p, o, m)
    for p, cases in (
        ("rsmooth-train", TRAIN),
        ("rsmooth-certify", CERTIFY),
        ("rsmooth-analyze", ANALYZE),
        ("rsmooth-attack", ATTACK),
    )
    for o, m in cases
]


@pytest.mark.parametrize("prog, override, message", CASES, ids=[f"{p[8:]}:{o}" for p, o, _ in CASES])
def test_a_config_mistake_is_one_line_naming_the_field_and_exit_2(
    prog: str, override: str, message: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, fn, base = ENTRY[prog]
    cfg = compose(config, [*base, f"paths.output_dir={tmp_path / 'out'}", override])
    with pytest.raises(SystemExit) as exit_:
        run_reporting_errors(prog, fn, cfg)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), lines
    if message is None:  # accepted: the next check (the missing file) speaks instead
        assert "never-read" in lines[0], lines
    else:
        assert message in lines[0], lines
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.tsv"))  # nothing written


class _DiskFillsUp:
    """A results file's handle on a disk that fills up halfway through the next row."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(text[: len(text) // 2])
        self.inner.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _row(idx: int) -> CertificationRow:
    return CertificationRow(
        idx,
        1,
        1,
        0.25,
        True,
        0.5,
        p_lower=0.9,
        count=90,
        n=100,
        norm="l2",
        noise="gaussian",
        certificate="cohen",
        alpha=0.001,
    )


def test_a_full_disk_is_one_line_and_the_rerun_resumes_after_the_last_complete_row(tmp_path: Path) -> None:
    path = tmp_path / "r.tsv"
    with pytest.raises(
        ResultsFileError,
        match=r"r.tsv: writing the row of idx 1 failed \(No space left on device\); "
        r"the 1 rows before it are saved: rerun to resume",
    ):
        with ResultsWriter(path, {"run": 1}) as writer:
            writer.write(_row(0))
            writer._file = _DiskFillsUp(writer._file)  # type: ignore[assignment]
            writer.write(_row(1))
    with pytest.warns(UserWarning, match="half-written last line"):
        with ResultsWriter(path, {"run": 1}) as writer:  # space freed: the rerun resumes
            assert writer.done == {0}
            writer.write(_row(1))
    assert [r.idx for r in read_rows(path)] == [0, 1]


# ------------------------------------------------------------------ every family: bad inputs, bad parameters
def _families() -> list[str]:
    from rsmooth.cli.config import config_dir

    return sorted(p.stem for p in (config_dir() / "noise").glob("*.yaml"))


def _noise(name: str) -> Any:
    from hydra.utils import instantiate

    small = ["++noise.table={num_samples:4000,pilot_samples:2000,chunk:2000,radius_max:3.0}"]
    return instantiate(
        compose("train", [f"noise={name}", *(small if name in ("power_l2", "mixed_linf") else [])]).noise
    )


BAD_INPUTS = {
    "nan": (lambda: torch.full((1, 4, 4), float("nan")), "input contains NaN or inf"),
    "inf": (lambda: torch.full((1, 4, 4), float("inf")), "input contains NaN or inf"),
    "above_one": (lambda: torch.full((1, 4, 4), 1.5), "input must lie in [0, 1]"),
    "below_zero": (lambda: torch.full((1, 4, 4), -0.1), "input must lie in [0, 1]"),
}


@pytest.mark.parametrize("family", _families())
@pytest.mark.parametrize("bad", BAD_INPUTS)
def test_every_family_refuses_a_bad_input_with_one_line(family: str, bad: str) -> None:
    from rsmooth.errors import RsmoothError
    from rsmooth.smoothing import Smooth
    from tests.conftest import LinearTwoClass

    make, message = BAD_INPUTS[bad]
    smooth = Smooth(LinearTwoClass(torch.ones(16) / 4, 0.1), _noise(family), 2, seed=0)
    with pytest.raises(RsmoothError) as err:
        smooth.certify(make(), 4, 8, 0.001, 8)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_dssn_refuses_an_input_off_its_grid_with_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # digits pixels are k/16: not on DSSN's q = 255 grid
    cfg = compose("train", ["noise=dssn", "noise.q=255", "logger=csv", f"paths.output_dir={tmp_path}"])
    with pytest.raises(SystemExit) as exit_:
        run_reporting_errors("rsmooth-train", train, cfg)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "rsmooth-train: error: DSSN needs inputs quantized to q=255 levels (values in {0, 1/q, ..., 1}); got values "
        "up to 0.438/q off the grid"
    ]


@pytest.mark.parametrize("family", _families())
@pytest.mark.parametrize(
    "sigma, message",
    [
        ("0", "sigma must be a finite number > 0, got 0"),
        ("-1", "sigma must be a finite number > 0, got -1"),
        ("abc", "sigma must be a positive number, got 'abc'"),
    ],
)
def test_every_family_refuses_a_bad_sigma_with_one_line(
    family: str, sigma: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = compose("train", [f"noise={family}", f"noise.sigma={sigma}", "logger=csv", f"paths.output_dir={tmp_path}"])
    with pytest.raises(SystemExit) as exit_:
        run_reporting_errors("rsmooth-train", train, cfg)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_python_api_inputs_as_users_pass_them() -> None:
    """numpy counts, numpy images and lists of images work as Cohen's and ART's code accept them; what cannot
    work is one line naming what was expected."""
    import numpy as np

    from rsmooth.errors import ConfigError
    from rsmooth.noise import GaussianNoise
    from rsmooth.smoothing import Smooth
    from tests.conftest import LinearTwoClass

    smooth = Smooth(LinearTwoClass(torch.ones(16) / 4, 0.1), GaussianNoise(0.25), 2, seed=0)
    xs = torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    stacked = smooth.certify_many(xs, np.int64(10), np.int64(50), 0.001, 100)
    as_list = smooth.certify_many([xs[0], xs[1].numpy()], 10, 50, 0.001, 100)
    assert [(r.prediction, r.count) for r in as_list] == [(r.prediction, r.count) for r in stacked]
    with pytest.raises(ConfigError, match=r"inputs in a list must share one shape, got \[\(1, 2, 2\), \(1, 4, 4\)\]"):
        smooth.certify_many([xs[0], torch.rand(1, 2, 2)], 10, 50, 0.001, 100)
    with pytest.raises(ConfigError, match="input must be a torch.Tensor, a numpy array .* got str"):
        smooth.certify("image.png", 10, 50, 0.001, 100)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"input must lie in \[0, 1\]"):
        smooth.certify(torch.full((1, 4, 4), 1.0000001), 10, 50, 0.001, 100)


# ------------------------------------------------------------------ outputs: nothing written or changed
def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (links as their target's name), to show that a refusal changed nothing."""
    return {
        str(p.relative_to(directory)): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def test_training_into_a_directory_that_holds_a_run_is_refused_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "final.ckpt").write_bytes(b"the weights of days of training")
    (out / "certify.tsv").write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n")
    (out / ".hydra").mkdir()
    (out / "train.log").write_text("")
    before = snapshot(out)
    cfg = compose("train", ["trainer.accelerator=cpu", "logger=csv", f"paths.output_dir={out}"])
    with pytest.raises(SystemExit) as exit_:
        run_reporting_errors("rsmooth-train", train, cfg)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"rsmooth-train: error: paths.output_dir {out} already holds a run (certify.tsv, checkpoints); nothing "
        "was changed: add resume_from=auto to continue that run, or choose another paths.output_dir"
    ]
    assert snapshot(out) == before


def test_hydras_own_record_does_not_count_as_an_earlier_run(tmp_path: Path) -> None:
    from rsmooth.cli.train import refuse_an_earlier_run

    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("{}")
    (tmp_path / "train.log").write_text("")
    refuse_an_earlier_run(tmp_path)  # what Hydra writes before the job starts
    refuse_an_earlier_run(tmp_path / "not-yet")
    (tmp_path / "csv").mkdir()
    with pytest.raises(ConfigError, match="already holds a run"):
        refuse_an_earlier_run(tmp_path)


def _one_line(capsys: pytest.CaptureFixture[str], prog: str, run: Callable[[], Any], code: int = 2) -> str:
    """Run an entry point's function under :func:`run_reporting_errors`-like handling, return its one stderr line."""
    with pytest.raises(SystemExit) as exit_:
        run()
    assert exit_.value.code == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: "), lines
    return lines[0]


# ------------------------------------------------------------------ rsmooth-analyze on files it cannot read
GOOD_ROW = "0\t1\t1\t0.5\t1\t0.1\n"
COHEN_HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"
ANALYZE_FILES = [
    ("empty", b"", "empty.tsv: no certification rows (an empty or header-only file)"),
    ("header-only", COHEN_HEADER.encode(), "header-only.tsv: no certification rows"),
    ("binary", bytes(range(200, 256)) * 4 + b"\n" + bytes(range(0, 50)), "binary.tsv: not a certification TSV"),
    ("radius-nan", (COHEN_HEADER + "0\t1\t1\tnan\t1\t0.1\n").encode(), "radius: expected a finite number >= 0"),
    ("radius-inf", (COHEN_HEADER + "0\t1\t1\tinf\t1\t0.1\n").encode(), "radius: expected a finite number >= 0"),
    ("radius-negative", (COHEN_HEADER + "0\t1\t1\t-0.5\t1\t0.1\n").encode(), "got '-0.5'"),
    ("abstained-correct", (COHEN_HEADER + "0\t1\t-1\t0.0\t1\t0.1\n").encode(), "column correct is 1 but predict -1"),
    ("abstained-radius", (COHEN_HEADER + "0\t1\t-1\t0.3\t0\t0.1\n").encode(), "an abstaining row (predict -1)"),
    ("wrong-correct", (COHEN_HEADER + "0\t2\t1\t0.3\t1\t0.1\n").encode(), "column correct is 1 but predict 1"),
]


@pytest.mark.parametrize("name, content, message", ANALYZE_FILES, ids=[c[0] for c in ANALYZE_FILES])
def test_analyze_refuses_a_file_it_cannot_read_with_one_line(
    name: str, content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{name}.tsv"
    path.write_bytes(content)
    out = tmp_path / "out"
    cfg = compose("analyze", [f"inputs={path}", f"paths.output_dir={out}"])
    line = _one_line(capsys, "rsmooth-analyze", lambda: run_reporting_errors("rsmooth-analyze", analyze, cfg))
    assert message in line, line
    assert not out.exists() and path.read_bytes() == content  # nothing written, the input untouched


def test_analyze_mistakes_across_inputs_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    with ResultsWriter(a, {"run": "a"}) as writer:
        writer.write(_row(0))
    with ResultsWriter(b, {"run": "b"}) as writer:
        writer.write(dataclasses.replace(_row(0), norm="linf"))
    out = tmp_path / "out"
    for overrides, message in (
        ([], "inputs is required: add inputs=... to the command line"),
        ([f"inputs=[{a},{a}]", "labels=[x]"], "labels has 1 entries for 2 inputs; give one label per input"),
        ([f"inputs=[{a},{b}]"], "inputs certify different norms (a.tsv: l2, b.tsv: linf)"),
    ):
        cfg = compose("analyze", [*overrides, f"paths.output_dir={out}"])
        line = _one_line(capsys, "rsmooth-analyze", lambda: run_reporting_errors("rsmooth-analyze", analyze, cfg))
        assert message in line, line
        assert not out.exists()


# ------------------------------------------------------------------ rsmooth-train mistakes found before training
@pytest.mark.parametrize(
    "override, message",
    [
        ("optimizer.lr=-1", "rsmooth-train: error: optimizer: Invalid learning rate: -1"),
        ("optimizer.momentum=-2", "rsmooth-train: error: optimizer: Invalid momentum value: -2"),
    ],
)
def test_an_optimizer_value_torch_refuses_is_one_line_before_training(
    override: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = compose("train", ["trainer.accelerator=cpu", "logger=csv", f"paths.output_dir={tmp_path}", override])
    assert _one_line(capsys, "rsmooth-train", lambda: run_reporting_errors("rsmooth-train", train, cfg)) == message
    assert not any(tmp_path.iterdir())  # no log, no checkpoint


def test_a_diverging_training_run_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.fixtures import fake_train_overrides

    cfg = compose("train", [*fake_train_overrides(tmp_path, epochs=3), "optimizer.lr=1e30"])
    line = _one_line(capsys, "rsmooth-train", lambda: run_reporting_errors("rsmooth-train", train, cfg))
    assert line.startswith("rsmooth-train: error: training diverged: the loss is nan at epoch 0, batch "), line
    assert "lower optimizer.lr" in line
    assert not (tmp_path / "checkpoints" / "final.ckpt").exists()


def test_a_run_directory_that_cannot_be_made_or_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Hydra callback every entry point's config names makes the run directory before Hydra would."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.utils import instantiate

    from rsmooth.cli.config import config_dir

    def composed(run_dir: Path) -> Any:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose("analyze", ["inputs=x.tsv", f"hydra.run.dir={run_dir}"], return_hydra_config=True)

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cfg = composed(blocker / "run")
    callback = instantiate(cfg.hydra.callbacks.run_directory)
    line = _one_line(capsys, "rsmooth-analyze", lambda: callback.on_run_start(cfg))
    assert line == f"rsmooth-analyze: error: cannot write in the run directory {blocker / 'run'}: Not a directory"
    callback.on_run_start(composed(tmp_path / "runs" / "one"))  # negative control: one that can be made is made
    assert (tmp_path / "runs" / "one").is_dir() and not any((tmp_path / "runs" / "one").iterdir())
    from rsmooth.cli import run_directory

    class FullDisk:  # the callback's os: the disk is full when Hydra would save its config
        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def write(fd: int, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_directory, "os", FullDisk())
    cfg = composed(tmp_path / "runs" / "two")
    line = _one_line(capsys, "rsmooth-analyze", lambda: callback.on_run_start(cfg))
    assert line.endswith("runs/two: No space left on device")
    assert not any((tmp_path / "runs" / "two").iterdir())  # the probe is gone


# ------------------------------------------------------------------ checkpoints whose records lie
def _crafted(checkpoint: Path, tmp_path: Path, change: Callable[[dict], None]) -> Path:  # type: ignore[type-arg]
    record = torch.load(checkpoint, weights_only=True)
    change(record)
    path = tmp_path / "crafted.ckpt"
    torch.save(record, path)
    return path


RECORDS: list[tuple[str, Callable[[dict], None], str]] = [  # type: ignore[type-arg]
    ("num_classes-text", lambda c: c["rsmooth"]["data"].update(num_classes="ten"), "num_classes must be an integer"),
    ("num_classes-absent", lambda c: c["rsmooth"]["data"].pop("num_classes"), "data record: no num_classes field"),
    ("std-zero", lambda c: c["rsmooth"]["data"].update(std=[0]), "std must be positive"),
    ("std-two", lambda c: c["rsmooth"]["data"].update(std=[0.2, 0.2]), "std must be 1 finite numbers"),
    ("shape-huge", lambda c: c["rsmooth"]["data"].update(input_shape=[3, 10**6, 10**6]), "at most 50331648 values"),
    ("state_dict-list", lambda c: c.update(state_dict=[1, 2]), "'state_dict' is not a mapping of parameter names"),
    ("model-list", lambda c: c["rsmooth"].update(model=[1]), "the model record is not a mapping"),
    ("width-huge", lambda c: c["rsmooth"]["model"].update(width=10**6), "but the file holds"),
    (
        "nan-weights",
        lambda c: [t.fill_(float("nan")) for t in c["state_dict"].values() if t.is_floating_point()],
        "the base classifier returned NaN or inf logits on the clean input of id 0",
    ),
]


@pytest.mark.parametrize("name, change, message", RECORDS, ids=[r[0] for r in RECORDS])
def test_a_checkpoint_whose_record_lies_is_one_line_and_nothing_is_written(
    name: str,
    change: Callable[[dict], None],  # type: ignore[type-arg]
    message: str,
    checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.integration.fixtures import certify_overrides

    crafted = _crafted(checkpoint, tmp_path, change)
    out = tmp_path / "out"
    cfg = compose("certify", certify_overrides(crafted, out / "c.tsv"))
    line = _one_line(capsys, "rsmooth-certify", lambda: run_reporting_errors("rsmooth-certify", certify, cfg))
    assert line.startswith("rsmooth-certify: error: ") and message in line, line
    assert not out.exists()


def test_a_cohen_arch_that_is_not_a_name_is_one_line(tmp_path: Path) -> None:
    from rsmooth.errors import CheckpointError
    from rsmooth.loading.checkpoint import load_classifier

    path = tmp_path / "cohen.pth"
    torch.save({"arch": ["cifar_resnet20"], "state_dict": {"1.conv1.weight": torch.zeros(1)}}, path)
    with pytest.raises(CheckpointError, match=r"unknown arch \['cifar_resnet20'\] in a Cohen-format file"):
        load_classifier(path, data="cifar10")


# ------------------------------------------------------------------ the noise a certify run is told to use
def test_hydras_hint_for_a_noise_field_certifies_the_checkpoints_family_with_it(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integration.fixtures import certify_overrides

    tsv = tmp_path / "sigma.tsv"
    certify(compose("certify", [*certify_overrides(checkpoint, tsv), "certification.max=2", "+noise.sigma=0.5"]))
    assert {r.noise for r in read_rows(tsv)} == {"gaussian(sigma=0.5,norm=l2)"}
    cfg = compose("certify", [*certify_overrides(checkpoint, tmp_path / "x.tsv"), "+noise.sigm=0.5"])
    line = _one_line(capsys, "rsmooth-certify", lambda: run_reporting_errors("rsmooth-certify", certify, cfg))
    assert line == "rsmooth-certify: error: noise.sigm is not a field of the checkpoint's noise " + (
        "gaussian(sigma=0.25,norm=l2)"
    )
    assert not (tmp_path / "x.tsv").exists()


# ------------------------------------------------------------------ the Python API
def test_ids_shared_by_two_inputs_are_refused_and_an_empty_batch_has_no_result() -> None:
    from rsmooth.noise import GaussianNoise
    from rsmooth.smoothing import Smooth
    from tests.conftest import LinearTwoClass

    smooth = Smooth(LinearTwoClass(torch.ones(16) / 4, 0.1), GaussianNoise(0.25), 2, seed=0)
    with pytest.raises(ConfigError, match="id 3 is given to two inputs; .* no two inputs may share samples"):
        smooth.certify_many(torch.rand(3, 1, 4, 4), 10, 50, 0.001, 100, ids=[3, 5, 3])
    assert smooth.certify_many([], 10, 50, 0.001, 100) == []
    assert smooth.certify_many(torch.rand(0, 1, 4, 4), 10, 50, 0.001, 100) == []
    with pytest.raises(ConfigError, match="ids has 1 entries for 0 inputs"):
        smooth.certify_many([], 10, 50, 0.001, 100, ids=[1])


@pytest.mark.parametrize("family", ["gaussian", "dssn"])
def test_nan_logits_on_some_noisy_copies_stop_certification_naming_the_input(family: str) -> None:
    from rsmooth.errors import ModelOutputError
    from rsmooth.smoothing import Smooth

    bright = 1.3 if family == "gaussian" else 0.9  # DSSN's noisy copies stay in [0, 1]: of 1.0, in [0.5, 1]

    class BrokenOnBrightInputs(torch.nn.Module):  # finite logits, but NaN where the first pixel is bright
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            logits = torch.stack([x.flatten(1).sum(1), -x.flatten(1).sum(1)], dim=1)
            return torch.where(x.flatten(1)[:, :1] > bright, torch.full_like(logits, float("nan")), logits)

    smooth = Smooth(BrokenOnBrightInputs(), _noise(family), 2, seed=0)
    xs = torch.full((3, 1, 4, 4), 64 / 255)  # on DSSN's grid; its noisy copies are never bright
    xs[1, 0, 0, 0] = 1.0  # some of its noisy copies are
    ok = smooth.certify_many(xs[[0, 2]], 8, 64, 0.001, 64, ids=[10, 12])  # negative control: finite logits
    assert len(ok) == 2
    with pytest.raises(ModelOutputError, match=r"NaN or inf logits on \d+ noisy copies of input id 11; "):
        smooth.certify_many(xs, 8, 64, 0.001, 64, ids=[10, 11, 12])


# ------------------------------------------------------------------ interruptions and full disks
def test_ctrl_c_is_one_line_saying_which_rows_are_saved(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import _thread
    import signal
    import threading
    import time

    from tests.integration.fixtures import certify_overrides

    tsv = tmp_path / "c.tsv"
    cfg = compose("certify", [*certify_overrides(checkpoint, tsv, n=10_000), "certification.group_size=1"])

    def press_ctrl_c_after_two_rows() -> None:  # what SIGINT does to the main thread: a KeyboardInterrupt
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not tsv.is_file() or tsv.read_text().count("\n") < 3):
            time.sleep(0.02)
        _thread.interrupt_main()

    # a fresh process has Python's own SIGINT handler; an earlier test in this worker process may have left another
    # (Lightning's DDP teardown sets SIG_DFL), and under SIG_DFL or SIG_IGN interrupt_main does nothing
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press_ctrl_c_after_two_rows)
    presser.start()
    try:
        line = _one_line(capsys, "rsmooth-certify", lambda: run_reporting_errors("rsmooth-certify", certify, cfg), 130)
    finally:
        presser.join()
        signal.signal(signal.SIGINT, handler)
    saved = len(read_rows(tsv))
    assert 2 <= saved < 24
    assert line == f"rsmooth-certify: interrupted; {saved} rows are saved in {tsv}: rerun the same command to resume"


def test_a_full_disk_while_a_figure_is_written_leaves_the_old_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from rsmooth.analysis.plots import plot_curves
    from rsmooth.errors import OutputError

    png = plot_curves({"a": ([0.0, 1.0], [1.0, 0.5])}, tmp_path / "c.png")
    before = png.read_bytes()

    def half_then_full(self: Figure, file: Any, **kwargs: Any) -> None:
        file.write(b"\x89PNG\r\n\x1a\n half a figure")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", half_then_full)
    with pytest.raises(OutputError, match=r"cannot write .*c.png: No space left on device; it was left as it was"):
        plot_curves({"b": ([0.0, 1.0], [0.9, 0.1])}, png)
    assert png.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.png"]
