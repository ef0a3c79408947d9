"""The certification step shared by ``rsmooth-train`` (after fitting) and ``rsmooth-certify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import Dataset

from rsmooth.certify.results import ResultsWriter, select_indices
from rsmooth.certify.run import certify_dataset
from rsmooth.certify.smooth import Smooth
from rsmooth.config import resolve_device
from rsmooth.noise.base import NoiseFamily
from rsmooth.reporting import summarize

PRECISIONS: dict[str | None, torch.dtype | None] = {None: None, "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def certify_to_tsv(
    model: nn.Module, noise: NoiseFamily, num_classes: int, dataset: Dataset[Any], cert: DictConfig, tsv: Path
) -> dict[str, Any]:
    """Certify the examples ``cert`` selects (start/end/skip/max) into ``tsv``, resuming after the
    rows already there; then write the plot and summary beside it. Returns the summary plus
    ``new_rows`` and ``already`` (rows found in the file before this run)."""
    precision = cert.get("precision")
    if precision not in PRECISIONS:
        raise ValueError(f"certification.precision must be one of {sorted(k for k in PRECISIONS if k)} or null, got {precision!r}")
    device = resolve_device(cert.device)
    smooth = Smooth(model.to(device), noise, num_classes, autocast_dtype=PRECISIONS[precision])
    indices = select_indices(len(dataset), cert.start, cert.end, cert.skip, cert.max)
    with ResultsWriter(tsv, noise.describe()) as writer:
        already = len(writer.done)
        new_rows = certify_dataset(
            smooth, dataset, indices, cert.n0, cert.n, cert.alpha, cert.batch_size,
            writer=writer, group_size=cert.group_size, bilateral=cert.bilateral, progress=cert.progress,
        )
    summary = summarize(tsv, cert.radii, tsv.parent, noise.norm)
    return {**summary, "new_rows": len(new_rows), "already": already}
