"""What a person sees first: each entry point's ``--help`` (a description, a usage line, examples and only the
groups it uses, answered before torch is imported), and one line naming the nearest valid key or option for a
misspelt one, never Hydra's advice to add it with ``+``."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from rsmooth.cli.config import group_options
from rsmooth.cli.overrides import overrides_error

#: entry point → the groups its help lists; every other group of conf/ must be absent
GROUPS = {
    "train": [
        "experiment",
        "data",
        "model",
        "noise",
        "objective",
        "optimizer",
        "scheduler",
        "trainer",
        "logger",
        "callbacks",
        "certification",
    ],
    "certify": ["certification", "data", "noise", "model"],
    "analyze": [],
    "attack": ["data", "noise", "model"],
}
ALL_GROUPS = set(GROUPS["train"]) | {"paths"}


def _help(task: str) -> tuple[str, float]:
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", f"from rsmooth.cli.launch import {task}; {task}()", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout, time.perf_counter() - start


@pytest.mark.parametrize("task", sorted(GROUPS))
def test_help_describes_the_entry_point_and_lists_only_its_groups(task: str) -> None:
    text, seconds = _help(task)
    lines = text.splitlines()
    assert lines[0].startswith(f"rsmooth-{task}: ")  # the one-line description, then a paragraph
    assert any(line.startswith(f"usage: rsmooth-{task} ") for line in lines)
    examples = lines[lines.index("examples:") + 1 :]
    assert sum(1 for line in examples[:3] if line.strip().startswith(f"rsmooth-{task}")) == 3
    listed: dict[str, str] = {}  # group → its options, joined over the wrapped lines
    group = None
    for line in lines:
        words = line.split()
        if line.startswith("  ") and words and words[0] in ALL_GROUPS and words[0] not in listed:
            group = words[0]
            listed[group] = line.split(None, 1)[1]
        elif group is not None and line.startswith(" " * 6) and words:
            listed[group] += " " + line.strip()
        else:
            group = None
    assert set(listed) == set(GROUPS[task])
    for group in GROUPS[task]:  # each with every option on disk
        assert listed[group] == ", ".join(group_options(group))
    assert "powered by Hydra" not in text
    # answered before torch (or Lightning) is imported: well under 2 s on the development machine (~1 s)
    assert seconds < 6.0, f"rsmooth-{task} --help took {seconds:.1f} s"


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys; from rsmooth.cli.launch import certify; sys.argv = ['rsmooth-certify', '--help']\n"
        "try:\n    certify()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'pytorch_lightning', 'wandb', 'matplotlib') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip().splitlines()[-1] == "[]", run.stdout + run.stderr


@pytest.mark.parametrize(
    ("task", "argv", "message"),
    [
        (
            "certify",
            ["certification.nn=5"],
            "certification.nn is not a setting of rsmooth-certify; did you mean certification.n?",
        ),
        ("train", ["noise.sigm=0.3"], "noise.sigm is not a setting of rsmooth-train; did you mean noise.sigma?"),
        (
            "train",
            ["+noise.sigm=0.3"],
            "noise.sigm is not an argument of rsmooth.noise.GaussianNoise; did you mean noise.sigma?",
        ),
        (
            "train",
            ["traner.max_epochs=1"],
            "traner.max_epochs is not a setting of rsmooth-train; did you mean trainer.max_epochs?",
        ),
        (
            "train",
            ["noise=gausian"],
            "noise=gausian is not an option of the noise group; did you mean noise=gaussian? options: "
            + ", ".join(group_options("noise")),
        ),
        (
            "train",
            ["-m", "noise=gaussian,power_l3"],
            "noise=power_l3 is not an option of the noise group; did you mean "
            "noise=power_l2? options: " + ", ".join(group_options("noise")),
        ),
        (
            "train",
            ["objective.lam=2"],
            "objective.lam is a setting of objective=consistency, macer or stability, not of "
            "objective=noise_augmentation; choose one of them",
        ),
        (
            "train",
            ["objective.lamb=2"],
            "objective.lamb is not a setting of rsmooth-train; did you mean objective.lam (a "
            "setting of objective=consistency|macer|stability)?",
        ),
        (
            "train",
            ["-m", "noise.sigma=0.25,0.5", "certification.alpah=0.01"],
            "certification.alpah is not a setting of rsmooth-train; did you mean certification.alpha?",
        ),
        (
            "train",
            ["noise=null"],
            "noise=null: a group takes one of its options ("
            + ", ".join(group_options("noise"))
            + "); ~noise leaves it out",
        ),
        ("analyze", ["input=a.tsv"], "input is not a setting of rsmooth-analyze; did you mean inputs?"),
        (
            "certify",
            ["checkpoint=c.ckpt", "noise.sigma=0.5"],
            "noise.sigma: no noise option is chosen here (it uses the "
            "checkpoint's own); choose one first (noise=<option>: "
            + ", ".join(group_options("noise"))
            + "), or +noise.sigma=... changes that field of the checkpoint's own noise",
        ),
    ],
)
def test_a_misspelt_key_or_option_is_one_line_naming_the_nearest(task: str, argv: list[str], message: str) -> None:
    assert overrides_error(f"rsmooth-{task}", task, argv) == message


@pytest.mark.parametrize(
    ("task", "argv"),
    [
        ("train", ["noise=power_l2", "noise.k=5", "objective=stability", "objective.lam=2"]),
        ("train", ["-m", "noise.sigma=0.25,0.5", "experiment=digits_dssn", "noise.q=16"]),
        ("train", ["hydra.run.dir=/tmp/x", "+trainer.fast_dev_run=true", "~logger", "++seed=3"]),
        ("certify", ["checkpoint=c.ckpt", "noise=gaussian", "noise.sigma=0.5", "+noise.norm=l2"]),
        ("certify", ["checkpoint=c.ckpt", "+noise.sigma=0.5", "certification=default"]),
        ("analyze", ["inputs=[a.tsv,b.tsv]", "labels=[a,b]", "linf_over_dimension.enabled=true"]),
    ],
)
def test_valid_command_lines_pass_the_check(task: str, argv: list[str]) -> None:
    assert overrides_error(f"rsmooth-{task}", task, argv) is None


def test_the_console_script_says_it_in_one_line_and_exits_2() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "rsmooth.certify", "checkpoint=c.ckpt", "certification.nn=5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "rsmooth-certify: error: certification.nn is not a setting of rsmooth-certify; did you mean certification.n?"
    ]


def test_a_long_certification_says_its_estimated_time_once(capsys) -> None:  # type: ignore[no-untyped-def]
    from rsmooth.cli.certification_job import EstimatedTime
    from rsmooth.smoothing.settings import CertificationSettings

    settings = CertificationSettings(n=100_000)
    eta = EstimatedTime(settings, True, long_s=0.0, after_s=0.0)  # every estimate counts as long here
    eta(10, 370)
    eta(20, 370)  # said once only
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("estimated ") and "for the 360 examples left" in lines[0]
    assert "at n = 100 000; certification.n=10000 costs about a tenth" in lines[0]
    quiet = EstimatedTime(settings, True, long_s=3600.0, after_s=0.0)  # a short job says nothing
    quiet(10, 370)
    assert capsys.readouterr().out == ""


def test_a_missing_checkpoint_is_said_before_a_data_problem(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from rsmooth.cli.certify import certify
    from rsmooth.cli.config import compose
    from rsmooth.cli.errors import run_reporting_errors

    cfg = compose(
        "certify",
        [
            f"checkpoint={tmp_path / 'none.ckpt'}",
            "data=cifar10",
            f"paths.data_dir={tmp_path}",
            f"paths.output_dir={tmp_path}",
        ],
    )
    with pytest.raises(SystemExit):
        run_reporting_errors("rsmooth-certify", certify, cfg)
    assert capsys.readouterr().err.splitlines() == [
        f"rsmooth-certify: error: checkpoint not found: {tmp_path / 'none.ckpt'}"
    ]
