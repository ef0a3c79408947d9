"""Fixtures shared by the integration tests: a small trained rsmooth checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsmooth.cli.config import compose
from rsmooth.cli.train import train


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits-CNN checkpoint trained 2 epochs on 64 fake 1×8×8 images of 4 classes (24 test images)."""
    out = tmp_path_factory.mktemp("train")
    cfg = compose(
        "train",
        [
            "data=fake",
            "model=digits_cnn",
            "data.num_classes=4",
            "data.input_shape=[1,8,8]",
            "data.train_size=64",
            "data.test_size=24",
            "trainer.max_epochs=2",
            "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false",
            "logger=csv",
            "~callbacks",
            "certification.enabled=false",
            f"paths.output_dir={out}",
        ],
    )
    return train(cfg)["checkpoint"]
