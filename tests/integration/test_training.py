"""Lightning training with the certification callback, W&B offline, and every experiment config."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from rsmooth.cli.config import compose, config_dir
from rsmooth.cli.train import train
from tests.integration.fixtures import finished_wandb_run, make_cifar10, make_imagefolder, make_svhn, result_fields

RADII = [0.0, 0.25, 0.5]


def _fake_overrides(tmp_path: Path) -> list[str]:
    return [
        "data=fake",
        "model=digits_cnn",
        "data.input_shape=[1,8,8]",
        "data.train_size=64",
        "data.test_size=16",
        "data.batch_size=16",
        "trainer.max_epochs=1",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "callbacks.certify.every_n_epochs=1",
        "callbacks.certify.settings.max=8",
        "callbacks.certify.settings.n0=10",
        "callbacks.certify.settings.n=50",
        f"callbacks.certify.settings.radii=[{','.join(map(str, RADII))}]",
        "certification.n0=10",
        "certification.n=50",
        "certification.max=4",
        "certification.progress=false",
        f"paths.output_dir={tmp_path}",
    ]


def test_one_epoch_on_fake_data_logs_certified_accuracy_to_csv_and_wandb(tmp_path: Path) -> None:
    cfg = compose("train", _fake_overrides(tmp_path))
    assert cfg.logger.wandb.offline is True
    result = train(cfg)

    # CSV logger: the callback's keys are in the metrics file
    metrics = list(csv.DictReader((tmp_path / "csv" / "version_0" / "metrics.csv").open()))
    keys = set(metrics[0].keys())
    expected = {f"val/cert_acc@{r:g}" for r in RADII} | {"val/acr", "val/abstain", "val/acc_clean", "val/acc_noisy"}
    assert expected <= keys
    cert_rows = [m for m in metrics if m.get("val/acr")]
    assert cert_rows and 0.0 <= float(cert_rows[-1]["val/cert_acc@0"]) <= 1.0

    # W&B offline run files: a run log holding the keys, and the curve table
    run_file, _ = finished_wandb_run(tmp_path)  # W&B's service may still be writing when train() returns
    runs = [run_file.parent]
    log = run_file.read_bytes()
    for key in expected | {"test/acr"}:
        assert key.encode() in log, key
    tables = list((runs[0] / "files" / "media" / "table").rglob("*.table.json"))
    cert_tables = [t for t in tables if "cert" in t.parts[-2] or "curve" in t.name]
    assert cert_tables
    table = json.loads(cert_tables[0].read_text())
    assert table["columns"] == ["radius", "certified_accuracy"] and len(table["data"]) >= len(RADII)

    # the callback's rows TSV, the final certification and the plot
    assert (tmp_path / "cert" / "cert_epoch000.tsv").is_file()
    assert result["certify_tsv"].is_file() and (tmp_path / "certify.png").stat().st_size > 5_000
    summary = json.loads((tmp_path / "certify.summary.json").read_text())
    assert summary["examples"] == 4


def test_checkpoint_records_the_noise_and_data(tmp_path: Path) -> None:
    import torch

    no_callbacks = [o for o in _fake_overrides(tmp_path) if not o.startswith("callbacks.")]
    cfg = compose(
        "train", no_callbacks + ["logger=csv", "~callbacks", "noise.sigma=0.5", "certification.enabled=false"]
    )
    result = train(cfg)
    ckpt = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)
    rec = ckpt["rsmooth"]
    assert rec["noise"] == {"_target_": "rsmooth.noise.gaussian.GaussianNoise", "sigma": 0.5, "norm": "l2"}
    assert rec["data"]["num_classes"] == 10 and rec["data"]["input_shape"] == [1, 8, 8]
    assert rec["model"]["_target_"] == "rsmooth.models.small.digits_cnn"
    # the module's hyperparameters are plain configs, loadable with weights_only=True
    hp = ckpt["hyper_parameters"]
    assert hp["noise"]["sigma"] == 0.5 and hp["optimizer"]["_target_"] == "torch.optim.SGD"
    assert "trusted_modules" not in hp  # what a run trusts is never taken from a file


def test_callback_is_skipped_under_fast_dev_run(tmp_path: Path) -> None:
    cfg = compose(
        "train", _fake_overrides(tmp_path) + ["logger=csv", "+trainer.fast_dev_run=1", "certification.enabled=false"]
    )
    train(cfg)
    assert not (tmp_path / "cert").exists()


EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))
#: the classifier architecture a denoised experiment's test puts behind the denoiser, per dataset
FROZEN_ARCHITECTURE = {
    "digits": ("digits_cnn", 10, 1),
    "cifar10": ("resnet20", 10, 3),
    "imagenet": ("resnet50", 2, 3),
}  # the test folder has 2 classes


def frozen_classifier_weights(tmp_path: Path, dataset: str) -> list[str]:
    """Overrides naming a freshly initialised classifier's state dict for ``dataset`` (a plain weights file)."""
    import torch
    from omegaconf import OmegaConf

    from rsmooth.loading.trusted import MODEL_MODULES, instantiate_trusted

    name, classes, channels = FROZEN_ARCHITECTURE[dataset]
    record = OmegaConf.to_container(OmegaConf.load(config_dir() / "model" / f"{name}.yaml"))
    net = instantiate_trusted(record, None, MODEL_MODULES)(num_classes=classes, in_channels=channels)  # type: ignore[arg-type]
    path = tmp_path / f"{name}.pt"
    torch.save(net.state_dict(), path)
    return [f"frozen_classifier.weights={path}", f"frozen_classifier.architecture={name}"]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_runs_one_step(tmp_path: Path, experiment: str) -> None:
    data_root = tmp_path / "data"
    make_cifar10(data_root)
    make_svhn(data_root / "svhn")
    make_imagefolder(data_root / "imagenet", size=(40, 40))
    overrides = [
        f"experiment={experiment}",
        f"paths.data_dir={data_root}",
        f"paths.output_dir={tmp_path / 'out'}",
        "logger=csv",
        "+trainer.fast_dev_run=1",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.enable_progress_bar=false",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.val_size=2",
        "certification.n0=2",
        "certification.n=4",
        "certification.batch_size=4",
        "certification.skip=1",
        "certification.max=1",
        "certification.progress=false",
    ]
    composed = compose("train", overrides)
    # ImageNet at 64×64 crops (same code, a cheaper step) where the noise allows: a power family needs k < d
    if composed.data._target_.endswith("ImageNetDataModule") and composed.noise.get("k", 0) < 3 * 64 * 64:
        overrides += ["data.image_size=64", "data.resize_size=72"]
    if "table" in compose("train", overrides).noise:  # a functional table: small, for one step
        overrides.append("++noise.table={num_samples:4000,pilot_samples:2000,chunk:2000,radius_max:3.0}")
    if "denoised" in experiment:  # a denoiser needs a classifier to sit in front of: a plain state dict here
        overrides += frozen_classifier_weights(tmp_path, experiment.split("_")[0])
        overrides += ["model.depth=3", "model.width=8"]  # a small DnCNN, for one step
    cfg = compose("train", overrides)
    assert cfg.data._target_.startswith("rsmooth.data.")
    result = train(cfg)
    assert result["certify_tsv"].is_file()
    assert len(result["certify_tsv"].read_text().splitlines()) == 2  # header + one certified example


DDP_SCRIPT = """
import sys
from rsmooth.cli.train import train
from rsmooth.cli.config import compose
train(compose("train", sys.argv[2:] + [f"paths.output_dir={sys.argv[1]}"]))
"""


def test_ddp_on_two_cpu_ranks_certifies_what_one_process_certifies(tmp_path: Path) -> None:
    """One epoch of DDP (gloo, 2 processes) with the callback: the callback shards its subset, gathers and
    logs from rank 0; the final certification shards the test split and rank 0 merges it. Both equal one
    process certifying the trained weights with the same seeds (the epoch's last step precedes validation)."""
    import subprocess
    import sys

    import torch
    from omegaconf import OmegaConf

    from rsmooth.cli.certify import certify
    from rsmooth.data.fake import FakeDataModule
    from rsmooth.loading.checkpoint import load_classifier
    from rsmooth.results import ResultsWriter, certify_examples, read_rows
    from rsmooth.smoothing import CertificationSettings, Smooth
    from rsmooth.validation import from_mapping

    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "out"
    overrides = [
        o
        for o in _fake_overrides(tmp_path)
        if not o.startswith(("paths.", "callbacks.certify.settings.max", "certification.max"))
    ]
    overrides += [
        "trainer=ddp_cpu",
        "logger=default",  # W&B (offline) and CSV: rank 1's W&B logger holds no run, and must not be asked for one
        "callbacks.certify.settings.max=11",
        "certification.max=-1",
        # sequential mode: budget 1024 from 256 samples, each input stops at its own stage
        "certification.mode=sequential",
        "callbacks.certify.settings.n=1024",
        "callbacks.certify.settings.sequential.first=256",
    ]
    run = subprocess.run(
        [sys.executable, str(script), str(out), *overrides],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # no rank fails quietly, and every epoch-level metric is logged the way DDP wants (no sync_dist advice)
    assert "Traceback" not in run.stderr and "sync_dist" not in run.stdout + run.stderr, run.stderr[-3000:]
    metrics = (out / "csv" / "version_0" / "metrics.csv").read_text()
    assert "val/cert_acc@0" in metrics

    # the callback's subset, certified again in this one process from the trained weights
    loaded = load_classifier(out / "checkpoints" / "final.ckpt")
    cfg = compose("train", overrides)
    dm = FakeDataModule(**{k: v for k, v in cfg.data.items() if k != "_target_"})
    dataset = dm.validation_dataset()
    cb = from_mapping(
        CertificationSettings,
        OmegaConf.to_container(cfg.callbacks.certify.settings, resolve=True),
        "callbacks.certify.settings",
    )  # type: ignore[arg-type]
    assert cb.mode == "sequential" and cb.schedule is not None and cb.schedule.sizes[0] == 256
    smooth = Smooth(loaded.model, loaded.noise, loaded.num_classes, seed=cb.seed)

    with ResultsWriter(tmp_path / "callback_one.tsv") as writer:  # written as the callback writes (rounded down)
        certify_examples(smooth, dataset, cb.select(len(dataset)), cb, writer=writer, progress=False)
    one = read_rows(tmp_path / "callback_one.tsv")
    gathered = read_rows(out / "cert" / "cert_epoch000.tsv")
    assert [r.idx for r in gathered] == list(range(11))  # both shards, each row once
    assert {r.n for r in gathered} <= {256, 512, 1024}
    assert result_fields(gathered) == result_fields(one)

    # the final certification: sharded over the two ranks, merged by rank 0 = rsmooth-certify in one process
    merged = read_rows(out / "certify.tsv")
    assert [r.idx for r in merged] == list(range(16)) and not (out / "certify.tsv.parts").exists()
    assert "rank 1: certified 8 new examples" in run.stdout  # half of the test split, merged by rank 0
    single = tmp_path / "single.tsv"
    certify(
        compose(
            "certify",
            [
                f"checkpoint={out / 'checkpoints' / 'final.ckpt'}",
                f"output={single}",
                f"paths.output_dir={tmp_path}",
                "certification=default",
                "certification.n0=10",
                "certification.n=50",
                "certification.progress=false",
                "certification.mode=sequential",
            ],
        )
    )
    assert result_fields(merged) == result_fields(read_rows(single))
    assert torch.equal(torch.tensor([r.predict for r in merged]), torch.tensor([r.predict for r in read_rows(single)]))


def test_training_is_the_same_with_the_certification_callback_on_or_off(tmp_path: Path) -> None:
    """The callback draws its noise from (seed, example id) generators, never from the global RNG."""
    import torch

    weights = []
    for name, extra in (("on", []), ("off", ["~callbacks.certify"])):
        overrides = [o.replace(str(tmp_path), str(tmp_path / name)) for o in _fake_overrides(tmp_path)]
        overrides += ["trainer.max_epochs=2", "logger=csv", "certification.enabled=false", *extra]
        result = train(compose("train", overrides))
        weights.append(torch.load(result["checkpoint"], map_location="cpu", weights_only=True)["state_dict"])
    assert (tmp_path / "on" / "cert" / "cert_epoch001.tsv").is_file()
    assert not (tmp_path / "off" / "cert").exists()
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
