"""Checkpoints of Cohen et al.'s reference code and the projects that reuse its format
(SmoothAdv, Consistency, MACER, denoised smoothing).

Format: ``torch.save({'arch': ..., 'state_dict': ..., ...})`` of ``Sequential(NormalizeLayer, net)``.
Their NormalizeLayer keeps its constants outside the state dict, so every key starts with ``1.``
(``1.module.`` for ImageNet, whose net was wrapped in DataParallel) and the normalization comes
from the dataset. The architectures are fixed by that format:

| arch              | net                                            | data              |
|-------------------|------------------------------------------------|-------------------|
| ``cifar_resnet20``  | CIFAR ResNet-20 (bearpaw layout, 10 classes)   | 3×32×32           |
| ``cifar_resnet110`` | CIFAR ResNet-110                               | 3×32×32           |
| ``resnet50``        | torchvision ResNet-50 (1000 classes)           | ImageNet, 3×224×224 |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from rsmooth.errors import CheckpointError
from rsmooth.models import NormalizedClassifier
from rsmooth.models.cifar_resnet import resnet20, resnet110
from rsmooth.models.dataset_specs import DatasetSpec
from rsmooth.models.imagenet import resnet50

#: the ``arch`` names of the format (a fixed file-format vocabulary, not a registry of rsmooth models)
COHEN_ARCHITECTURES: dict[str, Callable[[int, int], nn.Module]] = {
    "cifar_resnet20": resnet20,
    "cifar_resnet110": resnet110,
    "resnet50": resnet50,
}


def load_cohen_format(path: Path, ckpt: Mapping[str, Any], data: DatasetSpec) -> NormalizedClassifier:
    """The classifier of a Cohen-format checkpoint, normalized with ``data``'s constants."""
    arch = ckpt["arch"]
    if not isinstance(arch, str) or arch not in COHEN_ARCHITECTURES:
        raise CheckpointError(
            f"{path}: unknown arch {arch!r} in a Cohen-format file; known: {sorted(COHEN_ARCHITECTURES)}"
        )
    state = ckpt["state_dict"]
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path}: 'state_dict' is empty or not a mapping")
    prefix = "1.module." if all(k.startswith("1.module.") for k in state) else "1."
    if not all(k.startswith(prefix) for k in state):
        raise CheckpointError(
            f"{path}: keys of a Cohen-format state_dict start with '1.' (Sequential(NormalizeLayer, net)); "
            f"found e.g. {next(iter(state))!r}"
        )
    net = COHEN_ARCHITECTURES[arch](data.num_classes, data.input_shape[0])
    try:
        net.load_state_dict({k[len(prefix) :]: v for k, v in state.items()})
    except RuntimeError as err:
        raise CheckpointError(
            f"{path}: the {arch} weights do not fit {data.name} "
            f"({data.num_classes} classes, input {list(data.input_shape)}): "
            f"{' '.join(str(err).split())[:300]}"
        ) from None
    return NormalizedClassifier(net, data.mean, data.std)
