"""Certify many examples of a dataset, writing one row per example as it goes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from rsmooth.certify.results import CertificationRow, ResultsWriter
from rsmooth.certify.smooth import Smooth


def certify_dataset(
    smooth: Smooth,
    dataset: Dataset[Any],
    indices: Sequence[int],
    n0: int,
    n: int,
    alpha: float,
    batch_size: int,
    writer: ResultsWriter | None = None,
    group_size: int = 1,
    bilateral: bool = False,
    progress: bool = False,
) -> list[CertificationRow]:
    """CERTIFY each ``dataset[i]`` for i in ``indices`` (skipping those already in ``writer``).

    ``group_size`` inputs share forward batches (useful when n is small); the
    reported ``time`` of a row is its group's wall time divided by the group
    size. Rows go to ``writer`` (flushed) as soon as their group is done, and
    are also returned.
    """
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    pending = [int(i) for i in indices if writer is None or int(i) not in writer.done]
    groups = [pending[s : s + group_size] for s in range(0, len(pending), group_size)]
    iterator: Any = groups
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(groups, desc="certify", unit="group" if group_size > 1 else "img")
    rows: list[CertificationRow] = []
    noise_desc = smooth.noise.describe()
    for group in iterator:
        items = [dataset[i] for i in group]
        xs = torch.stack([torch.as_tensor(x) for x, _ in items])
        labels = [int(y) for _, y in items]
        start = time.perf_counter()
        certs = smooth.certify_many(xs, n0, n, alpha, batch_size, bilateral=bilateral)
        elapsed = (time.perf_counter() - start) / len(group)
        for idx, label, cert in zip(group, labels, certs):
            row = CertificationRow(
                idx=idx,
                label=label,
                predict=cert.prediction,
                radius=cert.radius,
                correct=cert.prediction == label,
                time=elapsed,
                p_lower=cert.p_lower,
                count=cert.count,
                n=cert.n,
                norm=cert.norm,
                noise=noise_desc,
                alpha=cert.alpha,
            )
            if writer is not None:
                writer.write(row)
            rows.append(row)
    return rows
