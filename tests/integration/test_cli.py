"""The entry points as a user runs them: checkpoints, resume after a kill, installed scripts."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rsmooth.cli.attack import attack
from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.cli.errors import run_reporting_errors
from rsmooth.errors import ConfigError, ResultsFileError
from rsmooth.loading.checkpoint import CheckpointMismatchError
from rsmooth.results import read_rows
from tests.integration.fixtures import certify_overrides as _certify_overrides

REPO = Path(__file__).resolve().parents[2]


def test_certify_from_checkpoint_writes_all_rows(checkpoint: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "c.tsv"
    result = certify(compose("certify", _certify_overrides(checkpoint, tsv) + ["certification.skip=2"]))
    rows = read_rows(tsv)
    assert [r.idx for r in rows] == list(range(0, 24, 2)) and result["new_rows"] == 12
    assert all(r.noise == "gaussian(sigma=0.25,norm=l2)" and r.norm == "l2" for r in rows)
    assert (tmp_path / "c.png").is_file()
    # a second run finds everything done and adds nothing
    assert certify(compose("certify", _certify_overrides(checkpoint, tsv) + ["certification.skip=2"]))["new_rows"] == 0


def test_certify_with_another_sigma_than_training(checkpoint: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "c.tsv"
    certify(
        compose(
            "certify",
            _certify_overrides(checkpoint, tsv) + ["noise=gaussian", "noise.sigma=0.5", "certification.max=2"],
        )
    )
    assert {r.noise for r in read_rows(tsv)} == {"gaussian(sigma=0.5,norm=l2)"}


def test_certify_refuses_data_that_does_not_match_the_checkpoint(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointMismatchError, match="num_classes 10 vs 4"):
        certify(compose("certify", _certify_overrides(checkpoint, tmp_path / "c.tsv") + ["data=digits"]))


def test_certify_refuses_a_file_that_is_no_checkpoint(tmp_path: Path) -> None:
    import torch

    bogus = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}}, bogus)
    with pytest.raises(CheckpointMismatchError, match="neither an rsmooth checkpoint"):
        certify(compose("certify", _certify_overrides(bogus, tmp_path / "c.tsv")))
    with pytest.raises(CheckpointMismatchError, match="checkpoint not found"):
        certify(compose("certify", _certify_overrides(tmp_path / "missing.ckpt", tmp_path / "c.tsv")))


@pytest.mark.slow  # the default suite kills certification in rsmooth-train (test_crash_safety) and a torchrun rank
def test_certify_killed_mid_run_resumes_without_losing_or_duplicating_rows(checkpoint: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "resume.tsv"
    # n large enough that each example takes a visible moment; every other example, to keep the test short
    overrides = [*_certify_overrides(checkpoint, tsv, n=10_000), "certification.skip=2", "certification.group_size=1"]
    cmd = [sys.executable, "-m", "rsmooth.certify", *overrides]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline:
        if tsv.exists() and len(tsv.read_text().splitlines()) >= 4:  # header + ≥ 3 rows
            break
        if proc.poll() is not None:
            pytest.fail(f"certify exited early: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = [r.idx for r in read_rows(tsv)]
    assert 3 <= len(before) < 12, "the kill must land mid-run"
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = [r.idx for r in read_rows(tsv)]
    assert after[: len(before)] == before  # nothing already written was lost or rewritten
    assert sorted(after) == list(range(0, 24, 2)) and len(after) == len(set(after))
    assert f"resumed: {len(before)} examples were already in the file" in done.stdout


@pytest.mark.parametrize(
    "module, expect",
    # rsmooth.certify and rsmooth.analyze run as ``python -m`` in the kill, Ctrl-C and run-directory tests
    [("rsmooth.train", "GaussianNoise")],
)
def test_python_dash_m_entry_points(module: str, expect: str, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", module, "--cfg", "job"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert expect in run.stdout


def test_core_imports_no_lightning_hydra_or_wandb() -> None:
    code = (
        "import sys, rsmooth.noise, rsmooth.certify, rsmooth.smoothing.loop;"
        "bad=[m for m in ('pytorch_lightning','lightning','hydra','wandb','omegaconf') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_installed_wheel_finds_its_configs(tmp_path: Path) -> None:
    """Build the wheel, install it into a bare target dir, and run the scripts away from the checkout.

    The wheel is built from a copy of the tracked files: setuptools writes its ``build/`` folder beside the
    sources, and a test leaves nothing in the checkout."""
    wheel_dir, site, source = tmp_path / "wheel", tmp_path / "site", tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in tracked.decode().split("\0"):
        if name and (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(wheel_dir.glob("rsmooth-*.whl"))
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert inst.returncode == 0, inst.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import rsmooth.cli.config as c; print(c.config_dir())"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site)
    assert (Path(where.stdout.strip()) / "experiment" / "digits_gaussian.yaml").is_file()
    for script, expect in (
        ("rsmooth-train", "GaussianNoise"),
        ("rsmooth-certify", "checkpoint"),
        ("rsmooth-analyze", "inputs"),
        ("rsmooth-attack", "step_scale"),
    ):
        run = subprocess.run(
            [str(site / "bin" / script), "--cfg", "job"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert expect in run.stdout


def test_certify_precision_option(checkpoint: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "bf16.tsv"
    certify(
        compose(
            "certify", _certify_overrides(checkpoint, tsv) + ["certification.precision=bf16", "certification.max=2"]
        )
    )
    assert len(read_rows(tsv)) == 2
    with pytest.raises(ValueError, match="certification.precision"):
        certify(
            compose("certify", _certify_overrides(checkpoint, tmp_path / "x.tsv") + ["certification.precision=int8"])
        )


# --------------------------------------------------------------------------- results files one can trust
def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def other_checkpoint(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same model with one weight changed: another file, another digest."""
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    key = next(k for k in ckpt["state_dict"] if k.endswith("weight"))
    ckpt["state_dict"][key] = ckpt["state_dict"][key] + 1e-3
    path = tmp_path_factory.mktemp("other") / "other.ckpt"
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize(
    "change, field",
    [
        (["certification.n=300"], "certification.n"),
        (["certification.alpha=0.01"], "certification.alpha"),
        (["certification.seed=1"], "certification.seed"),
        (
            ["data=fake", "data.num_classes=4", "data.input_shape=[1,8,8]", "data.train_size=64", "data.test_size=30"],
            "data.size",
        ),
        (["data=digits"], "num_classes"),
        (["CHECKPOINT"], "checkpoint.sha256"),
    ],
)
def test_resuming_with_other_settings_exits_2_with_one_line_and_changes_nothing(
    checkpoint: Path,
    other_checkpoint: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: list[str],
    field: str,
) -> None:
    from rsmooth.cli.errors import run_reporting_errors

    tsv = tmp_path / "c.tsv"
    certify(compose("certify", _certify_overrides(checkpoint, tsv) + ["certification.max=3"]))
    before = (_sha(tsv), _sha(tsv.with_name("c.tsv.meta.json")))
    capsys.readouterr()
    overrides = _certify_overrides(checkpoint, tsv) + ["certification.max=5"]
    if change == ["CHECKPOINT"]:
        overrides = _certify_overrides(other_checkpoint, tsv) + ["certification.max=5"]
    else:
        overrides += change
    with pytest.raises(SystemExit) as exit_info:
        run_reporting_errors("rsmooth-certify", certify, compose("certify", overrides))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and field in err and err.startswith("rsmooth-certify: error: ")
    assert (_sha(tsv), _sha(tsv.with_name("c.tsv.meta.json"))) == before


def test_a_second_concurrent_writer_is_refused(checkpoint: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    tsv = tmp_path / "shared.tsv"
    cmd = [sys.executable, "-m", "rsmooth.certify", *_certify_overrides(checkpoint, tsv, n=40_000)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (tsv.exists() and tsv.read_text().startswith("idx")):  # open, locked
            assert first.poll() is None, first.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            time.sleep(0.05)
        capsys.readouterr()
        with pytest.raises(SystemExit) as second:  # the second writer, in this process: refused before any work
            run_reporting_errors(
                "rsmooth-certify", certify, compose("certify", _certify_overrides(checkpoint, tsv, n=40_000))
            )
        assert first.poll() is None, "the first writer must still be running"
        err = capsys.readouterr().err
        assert second.value.code == 2 and "being written by another process" in err
        assert len(err.strip().splitlines()) == 1
    finally:
        first.kill()
        first.wait()
    rows = read_rows(tsv)
    assert len({r.idx for r in rows}) == len(rows)  # nothing was written twice


def test_two_identical_runs_give_identical_files_apart_from_time(checkpoint: Path, tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "c.tsv", tmp_path / "b" / "c.tsv"]
    for p in paths:
        certify(
            compose(
                "certify",
                _certify_overrides(checkpoint, p)
                + ["certification.max=8", "certification.extra_certificates=[cohen_linf]"],
            )
        )

    def without_time(p: Path) -> list[list[str]]:
        lines = [line.split("\t") for line in p.read_text().splitlines()]
        assert lines[0][5] == "time"
        return [cols[:5] + cols[6:] for cols in lines]

    a, b = without_time(paths[0]), without_time(paths[1])
    assert a == b and len(a) == 9
    metas = [json.loads(p.with_name("c.tsv.meta.json").read_text()) for p in paths]
    assert [{k: v for k, v in m.items() if k != "created"} for m in metas][0] == {
        k: v for k, v in metas[1].items() if k != "created"
    }


def test_comparison_bounds_in_one_pass_and_their_figures(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """rsmooth-certify computes every bound from the same counts; rsmooth-analyze draws them, leaving
    the D_MR relaxation out of certified accuracy."""
    from rsmooth.analysis.bounds import certificate_columns
    from rsmooth.certificates import cohen_radius, lecuyer_radius
    from rsmooth.cli.analyze import analyze
    from rsmooth.cli.errors import run_reporting_errors

    tsv = tmp_path / "c.tsv"
    extras = "[lecuyer,li_renyi,tv,dmr_c1_relaxed,cohen_linf,tv_linf]"
    certify(
        compose(
            "certify",
            _certify_overrides(checkpoint, tsv, n=400)
            + [f"certification.extra_certificates={extras}", "certification.max=12"],
        )
    )
    rows = read_rows(tsv)
    header = tsv.read_text().splitlines()[0].split("\t")
    assert {"radius_lecuyer", "radius_li_renyi", "radius_tv", "radius_dmr_c1_relaxed", "radius_tv_linf"} <= set(header)
    certified = [r for r in rows if r.predict >= 0]
    assert certified, "the fixture model certifies nothing"
    for r in certified:
        tight = cohen_radius(r.p_lower, 1 - r.p_lower, 0.25)
        assert r.radius <= tight and r.extra_radii["lecuyer"] <= tight
        assert r.extra_radii["lecuyer"] == pytest.approx(lecuyer_radius(r.p_lower, 1 - r.p_lower, 0.25), abs=2e-6)
        assert r.extra_radii["tv_linf"] == pytest.approx(r.extra_radii["tv"] / 8, abs=2e-6)
    columns = {c.name: c for c in certificate_columns(tsv, rows)}
    assert not columns["dmr_c1_relaxed"].hard and columns["tv_linf"].norm == "linf"

    out = analyze(
        compose(
            "analyze",
            [
                f"inputs=[{tsv}]",
                f"paths.output_dir={tmp_path / 'a'}",
                "formats=[png]",
                "linf_over_dimension.enabled=true",
            ],
        )
    )
    names = {p.name for p in out["figures"]}
    assert {"curves.png", "c_bounds_l2.png", "c_bounds_linf.png", "linf_over_dimension.png"} <= names
    assert set(out["bounds"][out["labels"][0]]) == {"lecuyer", "li_renyi", "tv"}  # hard l2 bounds only: no D_MR
    assert "dmr" not in out["table"] and "radius vs" not in out["table"]

    # a relaxation can never be the certificate of the rows: one line, exit 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_reporting_errors(
            "rsmooth-certify",
            certify,
            compose(
                "certify",
                _certify_overrides(checkpoint, tmp_path / "d.tsv") + ["certification.certificate=dmr_c1_relaxed"],
            ),
        )
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1 and "relaxation" in err
    assert not (tmp_path / "d.tsv").exists()


def test_sequential_mode_from_the_command_line(checkpoint: Path, tmp_path: Path) -> None:
    """certification.mode=sequential: n is the budget; rows record the samples used; the provenance says
    so, and resuming in fixed mode is refused."""
    from rsmooth.errors import ResultsFileError
    from rsmooth.results import read_provenance

    tsv = tmp_path / "s.tsv"
    overrides = _certify_overrides(checkpoint, tsv, n=2048) + [
        "certification.mode=sequential",
        "certification.sequential.first=256",
        "certification.max=8",
        "certification.radii=[0.0,0.1]",
    ]
    certify(compose("certify", overrides))
    rows = read_rows(tsv)
    assert len(rows) == 8 and {r.n for r in rows} <= {256, 512, 1024, 2048} and min(r.n for r in rows) < 2048
    record = read_provenance(tsv)["certification"]
    assert record["mode"] == "sequential" and record["stages"] == [256, 512, 1024, 2048]
    assert sum(record["stage_alphas"]) == pytest.approx(0.001) and record["radii"] == [0.0, 0.1]
    with pytest.raises(ResultsFileError, match="mode"):
        certify(compose("certify", _certify_overrides(checkpoint, tsv, n=2048) + ["certification.max=9"]))


def test_attack_beside_the_certified_curve_and_the_inside_check(
    checkpoint: Path, other_checkpoint: Path, tmp_path: Path
) -> None:
    """rsmooth-attack: curve rows per example and radius, inside rows per certified example, one plot."""
    tsv = tmp_path / "certify.tsv"
    certify(
        compose(
            "certify",
            [
                f"checkpoint={checkpoint}",
                f"output={tsv}",
                f"paths.output_dir={tmp_path}",
                "certification.n=2000",
                "certification.n0=64",
                "certification.alpha=0.01",
                "certification.max=6",
                "certification.progress=false",
            ],
        )
    )
    cert_rows = read_rows(tsv)
    overrides = [
        f"checkpoint={checkpoint}",
        f"certified={tsv}",
        f"paths.output_dir={tmp_path / 'attack'}",
        "radii=[0.0,0.1,0.5]",
        "attack.steps=5",
        "attack.samples=8",
        "predict.n=2000",
    ]
    out = attack(compose("attack", overrides))
    rows, summary = out["rows"], out["summary"]
    certified = [r for r in cert_rows if r.predict >= 0 and r.radius > 0]
    assert len([r for r in rows if r.kind == "curve"]) == 6 * 3
    assert summary["inside_attempts"] == len(certified) and summary["inside_flips"] == 0
    assert len(summary["certified_accuracy"]) == 3 and summary["empirical_robust_accuracy"][0] >= 0
    # the empirical curve is an upper bound of the certified one (the fixture model is weak: allow PREDICT's α)
    assert all(e >= c - 1 / 6 for e, c in zip(summary["empirical_robust_accuracy"], summary["certified_accuracy"]))
    assert out["plot"].is_file() and out["tsv"].read_text().splitlines()[0].startswith("idx\tlabel\tkind")
    # the certified rows must come from this checkpoint
    other = [o.replace(f"checkpoint={checkpoint}", f"checkpoint={other_checkpoint}") for o in overrides]
    with pytest.raises(ConfigError, match="another checkpoint"):
        attack(compose("attack", other))
    # a results file without its record is refused, unless the user says it is another tool's; the report then
    # says that its provenance is unknown
    foreign = tmp_path / "foreign" / "cohen.tsv"
    foreign.parent.mkdir()
    foreign.write_bytes(tsv.read_bytes())
    bare = [o.replace(f"certified={tsv}", f"certified={foreign}") for o in overrides]
    with pytest.raises(ResultsFileError, match=r"cohen.tsv has no provenance record .* certified_format=cohen"):
        attack(compose("attack", bare))
    assert not (tmp_path / "told").exists()
    quick = ["radii=[0.0]", "attack.steps=1", "attack.samples=2", "predict.n=200", "max=2"]  # only the report matters
    told = attack(compose("attack", [*bare, *quick, "certified_format=cohen", f"paths.output_dir={tmp_path / 'told'}"]))
    assert told["summary"]["certified_provenance"] == "unknown" and summary["certified_provenance"] == "checked"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from rsmooth.cli.launch import attack; attack()",
            f"checkpoint={checkpoint}",
            f"paths.output_dir={tmp_path / 'bad'}",
            "attack.norm=l3",
        ],
        capture_output=True,
        text=True,
    )
    assert (
        run.returncode == 2
        and "attack.norm must be null, l1, l2 or linf" in run.stderr
        and "Traceback" not in run.stderr
    )


def test_results_file_and_model_mistakes_are_one_line(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rsmooth.cli.analyze import analyze
    from rsmooth.cli.errors import run_reporting_errors

    bad = tmp_path / "bad.tsv"
    bad.write_text("idx\tlabel\tpredict\tradius\tcorrect\ttime\n0\t1\t1\tabc\t1\t0:00:01\n")
    for prog, fn, args, expect in (
        ("rsmooth-analyze", analyze, [f"inputs=[{bad}]"], f"{bad}:2: column radius: expected a number, got 'abc'"),
        ("rsmooth-analyze", analyze, [f"inputs=[{tmp_path / 'none.tsv'}]"], "no certification TSV matches"),
        ("rsmooth-certify", certify, [f"checkpoint={checkpoint}", "model=resnet20"], "model= is for weights=PATH"),
    ):
        cfg = compose(prog[len("rsmooth-") :], [*args, f"paths.output_dir={tmp_path / 'o'}"])
        with pytest.raises(SystemExit) as exit_:
            run_reporting_errors(prog, fn, cfg)
        lines = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and len(lines) == 1 and lines[0].startswith(f"{prog}: error: ")
        assert expect in lines[0]
        assert not (tmp_path / "o").exists()


def test_a_gaussian_model_certified_with_discrete_gaussian_noise(checkpoint: Path, tmp_path: Path) -> None:
    """The float-sound procedure on a Gaussian-trained model, same σ: rows of cohen_discrete, and (as Voráček &
    Hein found for ordinary networks) nearly the certificates of the float procedure."""
    rows = {}
    for name, extra in (("float", []), ("discrete", ["noise=discrete_gaussian", "noise.sigma=0.25", "noise.q=255"])):
        certify(compose("certify", _certify_overrides(checkpoint, tmp_path / f"{name}.tsv", n=2000) + extra))
        rows[name] = read_rows(tmp_path / f"{name}.tsv")
    assert {r.certificate for r in rows["discrete"]} == {"cohen_discrete"}
    assert {r.noise for r in rows["discrete"]} == {"discrete_gaussian(sigma=0.25,q=255,norm=l2)"}
    agree = sum(a.predict == b.predict for a, b in zip(rows["float"], rows["discrete"]))
    assert agree >= 22  # of 24; each procedure draws its own noise
    gap = sum(abs(a.radius - b.radius) for a, b in zip(rows["float"], rows["discrete"])) / 24
    assert gap < 0.05, gap
