"""Fixtures shared by the integration tests: a small trained rsmooth checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsmooth.cli.config import compose
from rsmooth.cli.train import train
from tests.integration.fixtures import fake_train_overrides


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits-CNN checkpoint trained 2 epochs on 64 fake 1×8×8 images of 4 classes (24 test images)."""
    out = tmp_path_factory.mktemp("train")
    return train(compose("train", fake_train_overrides(out, epochs=2)))["checkpoint"]
