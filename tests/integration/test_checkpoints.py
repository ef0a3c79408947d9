"""Checkpoints are untrusted input; foreign formats load to the same logits as their original network."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.cli.train import train
from rsmooth.errors import CheckpointError, ResultsFileError
from rsmooth.loading.checkpoint import load_classifier, load_weights
from rsmooth.results import read_rows
from rsmooth.results.file import meta_path
from rsmooth.training import SmoothingClassifier
from tests.integration.fixtures import certify_overrides as _certify_overrides
from tests.integration.fixtures import fake_train_overrides, make_cifar10

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- crafted files cannot run code
class Trap:
    """Unpickling this object would create ``marker`` (any code could run instead)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


def test_a_crafted_pickle_is_refused_and_runs_nothing(checkpoint: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    ckpt["rsmooth"]["trap"] = Trap(marker)
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    with pytest.raises(CheckpointError, match="refusing to load .* pickled objects"):
        load_classifier(evil)
    run = subprocess.run(
        [sys.executable, "-m", "rsmooth.certify", *_certify_overrides(evil, tmp_path / "c.tsv")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and run.stderr.startswith("rsmooth-certify: error: refusing to load")
    assert "Traceback" not in run.stderr
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "empty"])
def test_a_damaged_file_is_named_as_no_checkpoint(
    checkpoint: Path, tmp_path: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from rsmooth.cli.errors import run_reporting_errors

    data = checkpoint.read_bytes()
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(
        {"truncated": data[: len(data) // 2], "random bytes": b"\x13" + os.urandom(4096), "empty": b""}[damage]
    )
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint: neither a zip archive"):
        load_classifier(bad)
    with pytest.raises(SystemExit) as exit_:
        run_reporting_errors(
            "rsmooth-certify", certify, compose("certify", _certify_overrides(bad, tmp_path / "c.tsv"))
        )
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(lines) == 1 and "is not a PyTorch checkpoint" in lines[0]
    assert "weights_only` set to `False`" not in lines[0]  # never advise a user to run code from a bad file


@pytest.mark.parametrize(
    "part, record",
    [
        ("noise", {"_target_": "shutil.copyfile", "src": "/etc/hostname", "dst": "COPY"}),
        ("noise", {"_target_": "os.system", "command": "touch COPY"}),
        (
            "noise",
            {"_target_": "rsmooth.noise.base.torch.save", "obj": 1, "f": "COPY"},
        ),  # attribute walk out of rsmooth
        ("noise", {"_target_": "rsmooth.models.small.digits_cnn", "num_classes": 2, "in_channels": 1}),  # wrong kind
        ("model", {"_target_": "builtins.open", "_partial_": True, "file": "COPY", "mode": "w"}),
        ("model", {"_target_": "rsmooth.cli.train.train", "_partial_": True}),  # inside rsmooth, but not a model
        (
            "model",
            {
                "_target_": "rsmooth.models.small.digits_cnn",
                "_partial_": True,
                "width": {"_target_": "builtins.open", "file": "COPY", "mode": "w"},
            },
        ),
    ],
)
def test_a_crafted_record_instantiates_nothing_outside_rsmooth(
    checkpoint: Path, tmp_path: Path, part: str, record: dict
) -> None:
    record = {k: (str(tmp_path / v) if v == "COPY" else v) for k, v in record.items()}
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    ckpt["rsmooth"][part] = record
    evil = tmp_path / "evil.ckpt"
    torch.save(ckpt, evil)
    with pytest.raises(
        CheckpointError, match="refusing to instantiate|is not a NoiseFamily|nested _target_|cannot import"
    ):
        load_classifier(evil)
    assert not (tmp_path / "COPY").exists()


def test_lightning_load_from_checkpoint_rebuilds_the_module(checkpoint: Path) -> None:
    module = SmoothingClassifier.load_from_checkpoint(checkpoint, map_location="cpu")
    loaded = load_classifier(checkpoint)
    x = torch.rand(5, 1, 8, 8)
    module.eval()
    with torch.no_grad():
        assert torch.equal(module(x), loaded.model(x))
    assert module.noise == loaded.noise and module.num_classes == 4


def test_resuming_training_with_another_noise_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    cfg = compose("train", [*fake_train_overrides(tmp_path, epochs=3), f"resume_from={checkpoint}", "noise.sigma=0.5"])
    with pytest.raises(CheckpointError, match=r"cannot resume .* noise.sigma=0.25, this run has noise.sigma=0.5"):
        train(cfg)


def test_resuming_training_loads_the_checkpoint_with_weights_only(checkpoint: Path, tmp_path: Path) -> None:
    """A matching run resumes from the checkpoint (Lightning loads it with weights_only=True) and goes on
    from its epoch."""
    cfg = compose("train", [*fake_train_overrides(tmp_path, epochs=3), f"resume_from={checkpoint}", "noise.sigma=0.25"])
    before = torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"]
    result = train(cfg)
    after = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)
    assert after["epoch"] == 3 > before


LIGHTNING_FREE = """
import sys
from rsmooth.loading.checkpoint import load_classifier
loaded = load_classifier(sys.argv[1])
import torch
loaded.model(torch.rand(2, 1, 8, 8))
bad = [m for m in ("pytorch_lightning", "lightning", "hydra", "omegaconf", "wandb") if m in sys.modules]
print(bad); sys.exit(1 if bad else 0)
"""


def test_loading_for_certification_imports_no_lightning_or_hydra(checkpoint: Path) -> None:
    run = subprocess.run([sys.executable, "-c", LIGHTNING_FREE, str(checkpoint)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


# --------------------------------------------------------------------------- the reference layouts
class CohenNormalize(nn.Module):
    """Cohen et al.'s NormalizeLayer: constants kept as plain attributes, so not in the state dict."""

    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.mean, self.std = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class RefBlock(nn.Module):
    """The published CIFAR ResNet block: conv3×3(stride)-BN-ReLU-conv3×3-BN, plus the input or a
    ``downsample`` (1×1 conv with stride, BN) when the shape changes, then ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(y + shortcut)


class RefCifarResNet(nn.Module):
    """The published layout: conv1 (3→16), bn1, ReLU, layer1..3 of n blocks (16/32/64 channels, stride 1/2/2),
    AvgPool2d(8), fc(64 → 10); depth = 6n + 2."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        stages, inplanes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = [RefBlock(inplanes, planes, stride)] + [RefBlock(planes, planes) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            inplanes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x))))))
        return self.fc(self.avgpool(x).view(x.size(0), -1))


def _randomize_batchnorm(net: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


CIFAR_MEAN, CIFAR_STD = [0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


@pytest.fixture(scope="module")
def cohen_cifar(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module]:
    torch.manual_seed(0)
    reference = nn.Sequential(CohenNormalize(CIFAR_MEAN, CIFAR_STD), RefCifarResNet(110))
    _randomize_batchnorm(reference, 1)
    path = tmp_path_factory.mktemp("cohen") / "checkpoint.pth.tar"
    torch.save(
        {
            "epoch": 90,
            "arch": "cifar_resnet110",
            "state_dict": reference.state_dict(),
            "optimizer": torch.optim.SGD(reference.parameters(), lr=0.1).state_dict(),
        },
        path,
    )
    return path, reference.eval()


def test_cohen_cifar_resnet110_loads_with_the_same_logits(cohen_cifar: tuple[Path, nn.Module]) -> None:
    path, reference = cohen_cifar
    assert all(k.startswith("1.") for k in torch.load(path, weights_only=True)["state_dict"])
    loaded = load_classifier(path, data="cifar10")
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref, got = reference(x), loaded.model(x)
    assert ref.std() > 0.1 and (ref - got).abs().max() < 1e-4
    assert loaded.source == "cohen" and loaded.noise is None
    with pytest.raises(CheckpointError, match="records no dataset"):
        load_classifier(path)


def test_cohen_imagenet_resnet50_loads_with_the_same_logits(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torchvision.models.resnet50(weights=None)
    _randomize_batchnorm(net, 3)
    reference = nn.Sequential(CohenNormalize(IMAGENET_MEAN, IMAGENET_STD), nn.DataParallel(net)).eval()
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"arch": "resnet50", "state_dict": reference.state_dict()}, path)
    assert all(k.startswith("1.module.") for k in torch.load(path, weights_only=True)["state_dict"])
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ref = reference(x)
        got = load_classifier(path, data="imagenet").model(x)
        assert (ref - got).abs().max() < 1e-4
        # the same network as a plain torchvision state dict (weights=)
        plain = tmp_path / "resnet50.pth"
        torch.save(net.state_dict(), plain)
        loaded = load_weights(plain, {"_target_": "rsmooth.models.imagenet.resnet50", "_partial_": True}, "imagenet")
        assert (ref - loaded.model(x)).abs().max() < 1e-4


def test_rsmooth_certify_certifies_a_cohen_checkpoint_end_to_end(
    cohen_cifar: tuple[Path, nn.Module], tmp_path: Path
) -> None:
    path, _ = cohen_cifar
    data = make_cifar10(tmp_path / "data", per_batch=4, test=3)
    tsv = tmp_path / "cohen.tsv"
    args = [
        f"checkpoint={path}",
        "data=cifar10",
        f"paths.data_dir={data}",
        "data.num_workers=0",
        "data.val_size=2",
        "noise=gaussian",
        "noise.sigma=0.25",
        f"output={tsv}",
        f"paths.output_dir={tmp_path}",
        "certification.n0=8",
        "certification.n=64",
        "certification.batch_size=64",
        "certification.progress=false",
    ]
    run = subprocess.run(
        [sys.executable, "-m", "rsmooth.certify", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    rows = read_rows(tsv)
    assert [r.idx for r in rows] == [0, 1, 2] and all(
        r.n == 64 and r.noise == "gaussian(sigma=0.25,norm=l2)" for r in rows
    )
    # without a noise or a dataset the file cannot be certified: one clear error each
    for drop, expect in (("noise=gaussian", "records no noise"), ("data=cifar10", "records no dataset")):
        group = drop.split("=")[0]
        bad = [a for a in args if a != drop and not a.startswith(group + ".")]
        with pytest.raises(CheckpointError, match=expect):
            certify(compose("certify", bad + [f"output={tmp_path / 'x.tsv'}"]))
    assert not (tmp_path / "x.tsv").exists()
    # the same command on another test set (same name, size and normalization, other images) is refused: the
    # record names the data itself, and the file is left as it was
    other = make_cifar10(tmp_path / "other", per_batch=4, test=3, seed=1)
    before = (tsv.read_bytes(), meta_path(tsv).read_bytes())
    moved = [f"paths.data_dir={other}" if a.startswith("paths.data_dir=") else a for a in args]
    with pytest.raises(ResultsFileError, match=r"cohen.tsv was made with data.examples_sha256='[0-9a-f]{64}' but this"):
        certify(compose("certify", moved))
    assert (tsv.read_bytes(), meta_path(tsv).read_bytes()) == before
