"""ImageNet (or any class-per-folder image set) through torchvision's ImageFolder."""

from __future__ import annotations

from torchvision import datasets, transforms

from rsmooth.data.base import ImageDataModule, require_files
from rsmooth.errors import DatasetNotFoundError
from rsmooth.models.dataset_specs import IMAGENET

IMAGENET_LAYOUT = """  train/<class_id>/<image>.JPEG
  val/<class_id>/<image>.JPEG
(ImageFolder layout: one folder per class, the same class folders in train/ and val/;
 the validation images must already be sorted into class folders)"""


class ImageNetDataModule(ImageDataModule):
    """ImageNet (docs/design.md §5): RandomResizedCrop(224) + flip for training, Resize(256) + CenterCrop(224) for
    evaluation; q = 255. ``image_size``/``resize_size`` allow smaller variants."""

    name = IMAGENET.name
    mean, std, quantization = IMAGENET.mean, IMAGENET.std, IMAGENET.quantization

    def __init__(
        self,
        root: str = "data/imagenet",
        batch_size: int = 64,
        num_workers: int = 8,
        pin_memory: bool = True,
        image_size: int = 224,
        resize_size: int = 256,
        val_size: int = 10_000,
        split_seed: int = 0,
    ) -> None:
        super().__init__(batch_size, num_workers, pin_memory, val_size, split_seed)
        self.root = require_files(root, ["train", "val"], self.name, IMAGENET_LAYOUT)
        self.image_size = image_size
        self.resize_size = resize_size
        self.input_shape = (3, image_size, image_size)
        self.classes = sorted(p.name for p in (self.root / "train").iterdir() if p.is_dir())
        val_classes = sorted(p.name for p in (self.root / "val").iterdir() if p.is_dir())
        if not self.classes:
            raise DatasetNotFoundError(f"imagenet: no class folders in {self.root / 'train'}.\n{IMAGENET_LAYOUT}")
        if val_classes != self.classes:
            raise DatasetNotFoundError(
                f"imagenet: class folders of {self.root / 'val'} ({len(val_classes)}) differ from those of "
                f"{self.root / 'train'} ({len(self.classes)}).\n{IMAGENET_LAYOUT}"
            )
        self.num_classes = len(self.classes)

    def _evaluation(self) -> transforms.Compose:
        return transforms.Compose(
            [transforms.Resize(self.resize_size), transforms.CenterCrop(self.image_size), transforms.ToTensor()]
        )

    def build_train(self, augment: bool) -> datasets.ImageFolder:
        if not augment:
            return datasets.ImageFolder(str(self.root / "train"), transform=self._evaluation())
        aug = transforms.Compose(
            [transforms.RandomResizedCrop(self.image_size), transforms.RandomHorizontalFlip(), transforms.ToTensor()]
        )
        return datasets.ImageFolder(str(self.root / "train"), transform=aug)

    def build_test(self) -> datasets.ImageFolder:
        return datasets.ImageFolder(str(self.root / "val"), transform=self._evaluation())


__all__ = ["IMAGENET_LAYOUT", "ImageNetDataModule"]
