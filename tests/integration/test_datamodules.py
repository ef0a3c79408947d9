from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rsmooth.data import (
    CIFAR10DataModule,
    DatasetNotFoundError,
    DigitsDataModule,
    FakeDataModule,
    ImageNetDataModule,
    SVHNDataModule,
)
from tests.integration.fixtures import make_cifar10, make_imagefolder, make_svhn


def _check_batch(dm, split_loader) -> None:  # type: ignore[no-untyped-def]
    x, y = next(iter(split_loader))
    assert x.dtype == torch.float32 and tuple(x.shape[1:]) == tuple(dm.input_shape)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert int(y.max()) < dm.num_classes
    # values lie on the q-grid
    q = dm.quantization
    assert torch.allclose(x * q, torch.round(x * q), atol=1e-4)


def test_digits_is_real_quantized_and_split_deterministically() -> None:
    dm = DigitsDataModule(batch_size=32)
    dm.setup("fit")
    assert dm.num_classes == 10 and dm.input_shape == (1, 8, 8) and dm.quantization == 16
    assert len(dm.certification_dataset()) == 359
    assert len(dm._train) == 1797 - 359 - 200 and len(dm.validation_dataset()) == 200  # type: ignore[arg-type]
    _check_batch(dm, dm.train_dataloader())
    _check_batch(dm, dm.val_dataloader())
    again = DigitsDataModule()
    assert torch.equal(dm.certification_dataset()[5][0], again.certification_dataset()[5][0])
    assert 0.2 < dm.mean[0] < 0.5 and dm.std[0] > 0.2


def test_fake_is_deterministic_and_quantized() -> None:
    a, b = FakeDataModule(seed=3, quantization=16), FakeDataModule(seed=3, quantization=16)
    a.setup("fit")
    b.setup("fit")
    assert torch.equal(a.build_train(True).tensors[0], b.build_train(True).tensors[0])
    _check_batch(a, a.train_dataloader())
    assert not torch.equal(
        a.build_train(True).tensors[0], FakeDataModule(seed=4, quantization=16).build_train(True).tensors[0]
    )


def test_cifar10_reads_torchvision_format(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    dm = CIFAR10DataModule(root=str(tmp_path), batch_size=4, num_workers=0, pin_memory=False, val_size=5)
    dm.setup("fit")
    assert len(dm._train) == 15 and len(dm.validation_dataset()) == 5  # type: ignore[arg-type]
    assert len(dm.certification_dataset()) == 6
    _check_batch(dm, dm.val_dataloader())
    x, _ = dm.certification_dataset()[0]
    raw = dm.certification_dataset().data[0]  # (32, 32, 3) uint8 as torchvision decoded it
    assert torch.allclose(x, torch.from_numpy(raw).permute(2, 0, 1).float() / 255)
    xt, _ = next(iter(dm.train_dataloader()))
    assert xt.shape == (4, 3, 32, 32)
    assert dm.certification_dataset().classes[0] == "airplane"


def test_svhn_reads_torchvision_format(tmp_path: Path) -> None:
    make_svhn(tmp_path)
    dm = SVHNDataModule(root=str(tmp_path), batch_size=4, num_workers=0, pin_memory=False, val_size=2)
    dm.setup("fit")
    assert len(dm.certification_dataset()) == 6
    _check_batch(dm, dm.val_dataloader())
    labels = [int(dm.certification_dataset()[i][1]) for i in range(6)]
    assert all(0 <= v <= 9 for v in labels)  # label 10 is digit 0


def test_imagenet_reads_imagefolder(tmp_path: Path) -> None:
    make_imagefolder(tmp_path)
    dm = ImageNetDataModule(
        root=str(tmp_path), batch_size=2, num_workers=0, pin_memory=False, image_size=32, resize_size=36, val_size=2
    )
    dm.setup("fit")
    assert dm.num_classes == 2 and dm.input_shape == (3, 32, 32)
    x, _ = next(iter(dm.val_dataloader()))
    assert x.shape == (2, 3, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    xt, _ = next(iter(dm.train_dataloader()))
    assert xt.shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    "factory, expected",
    [
        (lambda root: CIFAR10DataModule(root=root), "cifar-10-batches-py"),
        (lambda root: SVHNDataModule(root=root), "train_32x32.mat"),
        (lambda root: ImageNetDataModule(root=root), "train"),
    ],
)
def test_missing_dataset_names_path_and_layout(tmp_path: Path, factory, expected: str) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as err:
        factory(str(root))
    msg = str(err.value)
    assert str(root) in msg and expected in msg and "Expected layout" in msg


def test_imagenet_with_mismatched_class_folders_is_refused(tmp_path: Path) -> None:
    make_imagefolder(tmp_path)
    (tmp_path / "val" / "n99999999").mkdir()
    with pytest.raises(DatasetNotFoundError, match="differ"):
        ImageNetDataModule(root=str(tmp_path))


def test_validation_is_held_out_of_the_training_data_never_the_test_split(tmp_path: Path) -> None:
    """Model selection and the callback see a fixed seeded part of the training data, with the evaluation
    transform; the training loader never sees it; the test split is untouched."""
    make_cifar10(tmp_path, per_batch=6)
    dm = CIFAR10DataModule(root=str(tmp_path), num_workers=0, pin_memory=False, val_size=7, split_seed=3)
    dm.setup("fit")
    train_idx, val_idx = set(dm._train.indices), set(dm.validation_dataset().indices)  # type: ignore[union-attr]
    assert len(val_idx) == 7 and not train_idx & val_idx and len(train_idx | val_idx) == 30
    raw = dm.validation_dataset().dataset.data  # type: ignore[union-attr]
    i = sorted(val_idx)[0]
    x, _ = dm.validation_dataset()[0]  # evaluation transform: the exact pixels, no crop or flip
    assert torch.equal(x, torch.from_numpy(raw[i]).permute(2, 0, 1).float() / 255)
    again = CIFAR10DataModule(root=str(tmp_path), num_workers=0, pin_memory=False, val_size=7, split_seed=3)
    again.setup("fit")
    assert set(again.validation_dataset().indices) == val_idx  # type: ignore[union-attr]
    assert len(dm.certification_dataset()) == 6
    with pytest.raises(ValueError, match="val_size=30 leaves nothing to train on"):
        CIFAR10DataModule(root=str(tmp_path), num_workers=0, val_size=30).setup("fit")


def test_cifar10_batches_are_read_as_torchvision_reads_them_but_without_running_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    from torchvision import datasets
    from torchvision.datasets import cifar

    from rsmooth.data.cifar10 import CIFAR10Files
    from rsmooth.errors import DatasetError

    make_cifar10(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)  # the fixture has no md5 sums
    for train in (True, False):
        ours, theirs = CIFAR10Files(str(tmp_path), train=train), datasets.CIFAR10(str(tmp_path), train=train)
        assert (ours.data == theirs.data).all() and ours.targets == theirs.targets and ours.classes == theirs.classes

    class RunsCode:  # what a crafted batch would hold: unpickling it calls os.system
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return os.system, (f"touch {tmp_path / 'pwned'}",)

    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({"data": RunsCode(), "labels": [0]}))
    with pytest.raises(DatasetError, match=r"test_batch: refusing to load it: the file names posix.system"):
        CIFAR10Files(str(tmp_path), train=False)
    assert not (tmp_path / "pwned").exists()
    batch.write_bytes(b"\x80\x04 not a pickle at all" * 10)
    with pytest.raises(DatasetError, match="test_batch: not a readable pickled data file"):
        CIFAR10Files(str(tmp_path), train=False)
    batch.write_bytes(pickle.dumps({"pixels": [1, 2, 3]}))
    with pytest.raises(DatasetError, match="test_batch: not a CIFAR-10 batch"):
        CIFAR10Files(str(tmp_path), train=False)


def test_a_damaged_svhn_file_is_one_line(tmp_path: Path) -> None:
    from rsmooth.data.svhn import SVHNFiles
    from rsmooth.errors import DatasetError

    make_svhn(tmp_path)
    (tmp_path / "test_32x32.mat").write_bytes(b"MATLAB 5.0 MAT-file, but cut short")
    with pytest.raises(DatasetError, match=r"test_32x32.mat: not a readable SVHN .mat file"):
        SVHNFiles(str(tmp_path), split="test")
