"""Denoised smoothing end to end (a frozen classifier from each kind of file, f∘D saved and certified like any
checkpoint) and every new objective under 2-rank DDP on the CPU in a Hydra multirun over its weight."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.cli.train import train
from rsmooth.errors import ConfigError
from rsmooth.loading.checkpoint import load_classifier
from rsmooth.models.cifar_resnet import resnet20
from rsmooth.models.small import digits_cnn
from rsmooth.results import read_rows
from rsmooth.results.provenance import file_digest
from tests.integration.fixtures import certify_overrides, fake_train_overrides


def _classifier_state(checkpoint: Path, prefix: str) -> dict[str, torch.Tensor]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def test_a_denoiser_behind_an_rsmooth_checkpoint_leaves_it_untouched_and_certifies_as_one_model(
    tmp_path: Path,
) -> None:
    clean = train(compose("train", [*fake_train_overrides(tmp_path / "clean", 1), "objective=clean"]))["checkpoint"]
    overrides = [
        *fake_train_overrides(tmp_path / "denoised", 2),
        "model=dncnn_digits",
        "model.depth=3",
        "model.width=8",
        "objective=denoiser_stability",
        "optimizer=adamw",
        f"frozen_classifier.checkpoint={clean}",
    ]
    final = train(compose("train", overrides))["checkpoint"]
    frozen, before = _classifier_state(final, "model.classifier."), _classifier_state(clean, "model.")
    assert frozen.keys() == before.keys() and all(torch.equal(frozen[k], before[k]) for k in before)
    loaded = load_classifier(final)
    assert type(loaded.model).__name__ == "DenoisedClassifier"
    record = loaded.record["frozen_classifier"]
    assert record["format"] == "rsmooth" and record["sha256"] == file_digest(clean)
    assert record["record"]["model"]["_target_"] == "rsmooth.models.small.digits_cnn"
    assert loaded.record["denoiser"]["objective"]["_target_"].endswith("DenoiserStability")
    tsv = tmp_path / "certify.tsv"
    certify(compose("certify", certify_overrides(final, tsv, n=100)))
    assert len(read_rows(tsv)) == 24


def test_a_denoiser_behind_a_cohen_format_classifier_keeps_its_batchnorm_statistics(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = resnet20(10, 3)
    with torch.no_grad():  # running statistics that training mode would move
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "cohen.pth.tar"
    torch.save({"arch": "cifar_resnet20", "state_dict": {f"1.{k}": v for k, v in net.state_dict().items()}}, path)
    overrides = [
        *fake_train_overrides(tmp_path / "out", 1),
        "data.input_shape=[3,32,32]",
        "data.num_classes=10",
        "data.train_size=40",
        "data.test_size=4",
        "model=unet",
        "model.width=4",
        "objective=denoiser_mse",
        f"frozen_classifier.checkpoint={path}",
    ]
    final = train(compose("train", overrides))["checkpoint"]
    frozen = _classifier_state(final, "model.classifier.net.")
    assert all(torch.equal(frozen[k], v) for k, v in net.state_dict().items())
    record = load_classifier(final).record["frozen_classifier"]
    assert record["format"] == "cohen" and record["record"] == {"arch": "cifar_resnet20"}


DENOISER = ["model=dncnn_digits", "model.depth=3", "model.width=8"]


def test_a_stability_denoiser_starts_from_the_mse_one_and_records_it(tmp_path: Path) -> None:
    """``init_from``: the weights of a checkpoint of the same model (Salman et al. 2020 fine-tune the stability
    denoiser from the MSE one). At lr 0 the run ends where it started, so its weights (all but the denoiser's
    BatchNorm statistics, which training mode moves) must be the MSE run's exactly; a checkpoint of another
    network, or a denoiser of another classifier, is refused in one line."""
    clean = train(compose("train", [*fake_train_overrides(tmp_path / "clean", 1), "objective=clean"]))["checkpoint"]
    frozen = f"frozen_classifier.checkpoint={clean}"
    mse_run = [*fake_train_overrides(tmp_path / "mse", 1), *DENOISER, "objective=denoiser_mse", "optimizer=adamw"]
    mse = train(compose("train", [*mse_run, frozen]))["checkpoint"]
    still = ["objective=denoiser_stability", "optimizer=sgd", "optimizer.lr=0", "optimizer.weight_decay=0"]
    stab_run = [*fake_train_overrides(tmp_path / "stab", 1), *DENOISER, *still, frozen]
    stab = train(compose("train", [*stab_run, f"init_from={mse}"]))["checkpoint"]
    after, start = _classifier_state(stab, "model."), _classifier_state(mse, "model.")
    moving = ("running_mean", "running_var", "num_batches_tracked")  # the denoiser's BatchNorm statistics
    weights = [k for k in start if not (k.startswith("denoiser.") and k.endswith(moving))]
    assert after.keys() == start.keys() and all(torch.equal(after[k], start[k]) for k in weights)
    fresh = train(compose("train", [*fake_train_overrides(tmp_path / "fresh", 1), *DENOISER, *still, frozen]))
    assert not torch.equal(  # negative control: without init_from the same run starts elsewhere
        _classifier_state(fresh["checkpoint"], "model.denoiser.")["body.0.weight"],
        start["denoiser.body.0.weight"],
    )
    record = load_classifier(stab).record["initialized_from"]
    assert record["sha256"] == file_digest(mse)
    assert record["record"]["denoiser"]["objective"]["_target_"].endswith("DenoiserMSE")

    other = train(compose("train", [*fake_train_overrides(tmp_path / "other", 1), "objective=clean", "seed=1"]))
    cases = [
        ([f"frozen_classifier.checkpoint={other['checkpoint']}", f"init_from={mse}"], "another classifier"),
        ([frozen, f"init_from={clean}"], "holds another network than this run's model="),
    ]
    for n, (extra, message) in enumerate(cases):
        out = tmp_path / f"refused{n}"
        with pytest.raises(ConfigError, match=message) as err:
            train(compose("train", [*fake_train_overrides(out, 1), *DENOISER, *still, *extra]))
        assert "\n" not in str(err.value)
        assert not (out / "checkpoints").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["frozen_classifier.weights=w.pt"], "frozen_classifier.architecture must be the network of the weights"),
        (["frozen_classifier.weights=w.pt", "frozen_classifier.checkpoint=c.pt"], "one of checkpoint= or weights="),
        (["frozen_classifier.weights=w.pt", "frozen_classifier.architecture=nope"], "not a conf/model name"),
        ([], "model: rsmooth.models.denoisers.dncnn is a denoiser, which goes in front of a frozen classifier"),
    ],
)
def test_denoised_smoothing_mistakes_are_one_line_before_any_training(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    (tmp_path / "w.pt").write_bytes(b"")
    overrides = [*fake_train_overrides(tmp_path / "out", 1), "model=dncnn_digits", "objective=denoiser_mse", *extra]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(ConfigError, match=message) as err:
            train(compose("train", overrides))
    finally:
        os.chdir(cwd)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out" / "checkpoints").exists()


TINY_DDP = [
    "trainer=ddp_cpu",
    "data=fake",
    "model=digits_cnn",
    "data.input_shape=[1,8,8]",
    "data.train_size=32",
    "data.test_size=8",
    "data.val_size=8",
    "data.batch_size=8",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "callbacks.certify.settings.max=4",
    "callbacks.certify.settings.n0=10",
    "callbacks.certify.settings.n=50",
    "certification.n0=10",
    "certification.n=50",
    "certification.max=4",
    "certification.progress=false",
    "logger=csv",
]
#: objective → (its sweep, the hyperparameter key that must differ between the jobs)
SWEEPS = {
    "consistency": (["objective=consistency", "objective.lam=1,4"], "lam"),
    "smoothadv": (["objective=smoothadv", "objective.eps=0.1,0.3", "objective.m=2"], "eps"),
    "macer": (["objective=macer", "objective.lam=1,4", "objective.m=2"], "lam"),
    "denoisers": (["objective=denoiser_mse,denoiser_stability", "model=dncnn_digits", "model.depth=3"], "_target_"),
}


@pytest.mark.parametrize(
    "name",
    # each is a 2-job multirun of 2-rank DDP (~20 s): -m slow runs them (2-rank DDP training stays in the default
    # suite through tests/integration/test_training.py)
    [pytest.param(n, marks=pytest.mark.slow) for n in sorted(SWEEPS)],
)
def test_each_objective_trains_under_two_rank_ddp_in_a_multirun(tmp_path: Path, name: str) -> None:
    sweep, key = SWEEPS[name]
    extra: list[str] = []
    if name == "denoisers":
        net = digits_cnn(10, 1)  # fresh, as a plain state dict behind the denoisers
        torch.save(net.state_dict(), tmp_path / "clf.pt")
        extra = [f"frozen_classifier.weights={tmp_path / 'clf.pt'}", "frozen_classifier.architecture=digits_cnn"]
    run = subprocess.run(
        [sys.executable, "-m", "rsmooth.train", "-m", *TINY_DDP, *sweep, *extra, f"hydra.sweep.dir={tmp_path / 's'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("rank 1: certified") == 2  # both jobs ran two ranks
    seen = []
    for job in ("0", "1"):
        hp = torch.load(tmp_path / "s" / job / "checkpoints" / "final.ckpt", map_location="cpu", weights_only=True)
        seen.append(hp["hyper_parameters"]["objective"][key])
        config = yaml.safe_load((tmp_path / "s" / job / ".hydra" / "config.yaml").read_text())
        assert config["trainer"]["strategy"] == "ddp" and config["trainer"]["devices"] == 2
    assert seen[0] != seen[1]


def test_a_record_nesting_a_denoiser_in_the_classifier_is_refused_in_one_line(tmp_path: Path) -> None:
    """build_model never recurses into a denoised record: a crafted file cannot make it recurse without bound."""
    from rsmooth.data.fake import FakeDataModule
    from rsmooth.errors import CheckpointError

    model: dict[str, object] = {"_target_": "rsmooth.models.small.digits_cnn", "_partial_": True}
    for _ in range(2):
        model = {"denoiser": {"_target_": "rsmooth.models.denoisers.dncnn", "_partial_": True}, "classifier": model}
    record = {"model": model, "noise": {"_target_": "rsmooth.noise.gaussian.GaussianNoise", "sigma": 0.25}}
    record["data"] = FakeDataModule(input_shape=[1, 8, 8]).info()
    path = tmp_path / "nested.ckpt"
    torch.save({"rsmooth": record, "state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="a denoiser goes in front of a plain classifier") as err:
        load_classifier(path)
    assert "\n" not in str(err.value)
