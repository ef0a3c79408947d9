"""A Hydra multirun as users launch one: σ × λ on digits, one directory and one offline W&B run per job,
grouped by sweep, and rsmooth-analyze over the sweep directory drawing the best-over-runs envelope."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rsmooth.cli.analyze import analyze
from rsmooth.cli.config import compose
from tests.integration.fixtures import finished_wandb_run

SWEEP = ["noise.sigma=0.25,0.5", "objective.lam=2,6"]
TINY = [
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "callbacks.certify.settings.max=4",
    "callbacks.certify.settings.n0=10",
    "callbacks.certify.settings.n=100",
    "certification.n0=10",
    "certification.n=100",
    "certification.max=8",
    "certification.progress=false",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "rsmooth.train",
            "-m",
            "experiment=digits_stability",
            *SWEEP,
            *TINY,
            f"hydra.sweep.dir={root / 'sweep'}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return root / "sweep"


def _run_record(run_dir: Path) -> dict:  # type: ignore[type-arg]
    """Group, name, tags, config and the last summary values of a job's one offline W&B run."""
    _, records = finished_wandb_run(run_dir)
    found: dict = {"config": {}, "summary": {}, "artifacts": []}  # type: ignore[type-arg]
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            found |= {"group": record.run.run_group, "name": record.run.display_name, "tags": list(record.run.tags)}
        elif kind == "config":
            found["config"] |= {i.key or ".".join(i.nested_key): json.loads(i.value_json) for i in record.config.update}
        elif kind == "summary":
            found["summary"] |= {
                i.key or ".".join(i.nested_key): json.loads(i.value_json) for i in record.summary.update
            }
            for i in record.summary.remove:  # a key taken out of the summary, with what was nested under it
                gone = i.key or ".".join(i.nested_key)
                found["summary"] = {
                    k: v for k, v in found["summary"].items() if k != gone and not k.startswith(gone + ".")
                }
        elif kind == "artifact":
            found["artifacts"].append((record.artifact.type, record.artifact.name))
    return found


def test_a_two_by_two_sweep_gives_four_runs_labelled_with_sigma_and_lam(sweep: Path) -> None:
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1", "2", "3"]
    seen = set()
    for job in jobs:
        assert (job / "certify.tsv").is_file()
        assert [p.name for p in (job / "checkpoints").iterdir()] == ["final.ckpt"]  # one checkpoint per kind
        run = _run_record(job)
        sigma, lam = run["config"]["noise.sigma"], run["config"]["objective.lam"]  # the config, flattened
        seen.add((sigma, lam))
        assert run["summary"]["sigma"] == sigma and run["summary"]["lam"] == lam
        # the summary leads with the test split's figures: past the labels (dataset, lam, noise, objective, sigma),
        # in the order W&B lists keys, the first are test/...; the per-epoch series stay in the history only
        labels = {"dataset", "noise", "objective", "sigma", "lam"}
        figures = [k for k in sorted(run["summary"]) if k not in labels and not k.startswith("_")]  # _: W&B's own
        assert figures[:3] == ["test/abstain", "test/acr", "test/cert_acc@0"], figures
        assert not [k for k in figures if k.startswith(("val/", "train/", "epoch"))], figures
        assert run["group"] == f"train-sweep-{sweep.name}"  # one group per sweep
        assert run["name"] == f"noise.sigma={sigma},objective.lam={lam}"  # the swept values only
        assert {"dataset=digits", "noise=gaussian", "objective=Stability", f"sigma={sigma}", f"lam={lam}"} <= set(
            run["tags"]
        )
        run_id = next(job.glob("wandb/offline-run-*")).name.rsplit("-", 1)[1]
        assert ("certification-rows", f"certify-{run_id}") in run["artifacts"]  # the per-example rows
    assert seen == {(0.25, 2), (0.25, 6), (0.5, 2), (0.5, 6)}


def test_analyzing_the_sweep_directory_draws_the_envelope(sweep: Path, tmp_path: Path) -> None:
    result = analyze(compose("analyze", [f"inputs={sweep}", f"paths.output_dir={tmp_path}", "formats=[png]"]))
    labels = {f"noise.sigma={s} objective.lam={lam}" for s in (0.25, 0.5) for lam in (2, 6)}
    assert labels | {"best over runs"} <= set(result["curves"])  # each run named by what it sweeps
    envelope = result["curves"]["best over runs"]
    assert all(e == max(result["curves"][k][i] for k in labels) for i, e in enumerate(envelope))
    assert (tmp_path / "curves.png").is_file()
    assert sorted(result["inputs"]) == sorted(str(sweep / j / "certify.tsv") for j in "0123")


def test_the_slurm_launcher_preset_composes_with_the_rendezvous_exports() -> None:
    pytest.importorskip(
        "hydra_plugins.hydra_submitit_launcher",
        reason="hydra-submitit-launcher is not installed (pip install 'rsmooth[slurm]'; part of the [test] extra)",
    )
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from rsmooth.cli.config import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose(
            "train",
            [
                "hydra/launcher=slurm",
                "hydra.launcher.partition=gpu",
                "trainer=ddp",
                "trainer.devices=4",
                "hydra.launcher.tasks_per_node=4",
            ],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.tasks_per_node, cfg.trainer.devices) == ("gpu", 4, 4)
    assert any(line.startswith("export MASTER_ADDR=") for line in launcher.setup)  # srun ranks meet there
    assert any(line.startswith("export MASTER_PORT=") for line in launcher.setup)
