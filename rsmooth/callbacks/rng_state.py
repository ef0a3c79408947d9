"""Random number generator states in checkpoints, so a resumed run draws what an uninterrupted one draws."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch


class RngStateCheckpoint(pl.Callback):
    """Saves the global generators' states (torch CPU and CUDA, NumPy, Python) with every checkpoint
    and restores them when training resumes from one.

    Training noise, dropout and the data order draw from these generators; Lightning restores weights,
    optimizer and loop counters but not them, so without this callback a run resumed after a crash
    trains on other noise and batches than the uninterrupted run. The states are restored as soon as
    Lightning restores the callbacks, before the resumed epoch's data iterator draws its seeds (the
    sanity-check validation in between draws nothing from them: validation noise has its own
    generators). Checkpoints are saved at the end of an epoch, after its validation, so the resumed run
    continues the uninterrupted run's sequence exactly (tested on CPU: same weights, bit for bit).
    Stored as tensors and plain numbers: loadable with ``weights_only=True``.
    """

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": {
                "kind": str(kind),
                "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": float(cached),
            },
            "python": random.getstate(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        cuda = state_dict["cuda"]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        numpy = state_dict["numpy"]
        np.random.set_state(
            (
                numpy["kind"],
                numpy["keys"].numpy().astype(np.uint32),
                numpy["pos"],
                numpy["has_gauss"],
                numpy["cached_gaussian"],
            )
        )
        version, internal, gauss = state_dict["python"]
        random.setstate((version, tuple(internal), gauss))
