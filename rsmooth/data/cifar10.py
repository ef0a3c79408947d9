"""CIFAR-10 from torchvision's on-disk format (``cifar-10-batches-py``)."""

from __future__ import annotations

from pathlib import Path

from torchvision import datasets, transforms

from rsmooth.data.base import FilesDataModule
from rsmooth.dataset_specs import CIFAR10

CIFAR10_LAYOUT = """  cifar-10-batches-py/
    batches.meta
    data_batch_1 … data_batch_5
    test_batch
(the python version of CIFAR-10, as torchvision's CIFAR10 reads it)"""


class CIFAR10Files(datasets.CIFAR10):
    """torchvision's CIFAR10 reader; file presence is checked by rsmooth (with a clear
    error) and the md5 check is optional (``verify_checksums``), so that
    subsets in the same format load too."""

    def __init__(self, *args, verify_checksums: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._verify = verify_checksums
        super().__init__(*args, **kwargs)

    def _check_integrity(self) -> bool:
        if self._verify:
            return super()._check_integrity()
        base = Path(self.root) / self.base_folder
        return all((base / name).is_file() for name, _ in self.train_list + self.test_list)

    def _load_meta(self) -> None:
        if self._verify:
            return super()._load_meta()
        import pickle

        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            data = pickle.load(f, encoding="latin1")
        self.classes = data[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}


class CIFAR10DataModule(FilesDataModule):
    """CIFAR-10 (SPEC §5): RandomCrop(32, padding 4) + horizontal flip for training; q = 255."""

    name = CIFAR10.name
    num_classes, input_shape, quantization = CIFAR10.num_classes, CIFAR10.input_shape, CIFAR10.quantization
    mean, std = CIFAR10.mean, CIFAR10.std
    required_files = tuple(
        f"cifar-10-batches-py/{f}" for f in ["batches.meta", *(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]
    )
    layout = CIFAR10_LAYOUT

    def _dataset(self, train: bool, transform: transforms.Compose) -> datasets.CIFAR10:
        return CIFAR10Files(
            str(self.root), train=train, transform=transform, download=False, verify_checksums=self.verify_checksums
        )

    def build_train(self, augment: bool) -> datasets.CIFAR10:
        if not augment:
            return self._dataset(True, transforms.Compose([transforms.ToTensor()]))
        aug = transforms.Compose(
            [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), transforms.ToTensor()]
        )
        return self._dataset(True, aug)

    def build_test(self) -> datasets.CIFAR10:
        return self._dataset(False, transforms.Compose([transforms.ToTensor()]))
