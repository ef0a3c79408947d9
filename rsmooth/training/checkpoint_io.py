"""Checkpoints written atomically: a crash mid-save leaves the previous file whole."""

from __future__ import annotations

from typing import Any

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from rsmooth.atomic import atomic_output


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint I/O, but each file is written to a temporary name beside it,
    flushed to disk, and renamed over the target (:func:`~rsmooth.atomic.atomic_output`: an exclusive
    temporary file, never a planted link, atomic on POSIX). A run killed while
    saving ``last.ckpt`` therefore resumes from the last complete one, never from a truncated file.
    Paths with a URL scheme (``s3://``…) go through Lightning's own writer."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_output(path) as file:
            torch.save(checkpoint, file)
