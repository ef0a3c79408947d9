"""Certify examples of a dataset one group at a time, writing one row per example as it goes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from rsmooth.certify.results_file import ResultsWriter
from rsmooth.certify.rows import CertificationRow
from rsmooth.certify.sequential import SampleSchedule
from rsmooth.certify.smooth import CertifyResult, Smooth
from rsmooth.certify.stats import check_count


def select_indices(total: int, start: int = 0, end: int | None = None, skip: int = 1,
                   max_count: int | None = None) -> list[int]:
    """Every ``skip``-th index of [start, end) ∩ [0, total), at most ``max_count`` of them (Cohen's skip/max).

    ``end`` and ``max_count`` of None or a negative value mean "no limit".
    """
    skip = check_count("skip", skip)
    start = check_count("start", start, minimum=0)
    stop = total if end is None or end < 0 else min(end, total)
    out = list(range(start, stop, skip))
    if max_count is not None and max_count >= 0:
        out = out[:max_count]
    return out


def group_size_setting(value: int | str | None, name: str = "group_size") -> int | None:
    """A group-size setting: an integer ≥ 1, or ``auto``/None (fill the batches, :func:`auto_group_size`)."""
    if value is None or value == "auto":
        return None
    return check_count(name, value)


def auto_group_size(batch_size: int, samples_per_input: int) -> int:
    """Inputs per group so that even the smallest sampling phase fills a batch:
    ⌈batch / samples⌉ (e.g. n0 = 100 at batch 1000: 10 inputs share each selection batch)."""
    return max(1, -(-batch_size // max(1, samples_per_input)))


#: an exact family's group holds as many whole sets of L draws as fit in this many batches: the
#: per-call costs (input checks, one host transfer, the certificates) are shared by more samples
#: (DSSN on digits, L = 27: 0.939 → 0.950 of the forward pass from 2 to 4 batches, 2026-11-30)
EXACT_GROUP_BATCHES = 4


def exact_group_size(batch_size: int, num_draws: int, batches: int = EXACT_GROUP_BATCHES) -> int:
    """Inputs per group for an exact family: ⌊batches·batch/L⌋ (at least 1), so the group's draws fill
    ``batches`` batches as far as whole inputs go (L > batches·batch: one input per group)."""
    return max(1, batches * batch_size // max(1, num_draws))


def default_group_size(smooth: Smooth, batch_size: int, n0: int, n: int, schedule: SampleSchedule | None = None) -> int:
    """``group_size: auto``: enough inputs to fill a batch in the smallest Monte Carlo phase (n0, or the
    first sequential stage), or as many of an exact family's sets of L draws as fit in
    :data:`EXACT_GROUP_BATCHES` batches."""
    batch_size = check_count("batch_size", batch_size)
    if smooth.exact:
        return exact_group_size(batch_size, int(smooth.noise.num_draws() or 1))
    return auto_group_size(batch_size, min(n0, n, schedule.sizes[0] if schedule else n))


def row_from_result(idx: int, label: int, result: CertifyResult, seconds: float, noise: str) -> CertificationRow:
    """The results-file row of one example's :class:`CertifyResult`."""
    return CertificationRow(
        idx=idx, label=label, predict=result.prediction, radius=result.radius,
        correct=result.prediction == label, time=seconds, p_lower=result.p_lower,
        p_upper=result.p_upper_runner_up, count=result.count, count_runner_up=result.count_runner_up,
        n=result.n, norm=result.norm, noise=noise, certificate=result.certificate, alpha=result.alpha,
        exact_radius=result.exact_radius, extra_radii=dict(result.extra_radii),
    )


@dataclass
class CertifiedExamples:
    """The rows certified by one :func:`certify_examples` call, and the seconds spent building
    certificate tables before the first row (not included in any row's ``time``)."""

    rows: list[CertificationRow]
    table_seconds: float


def certify_examples(
    smooth: Smooth,
    dataset: Dataset[Any],
    indices: Sequence[int],
    n0: int,
    n: int,
    alpha: float,
    batch_size: int,
    writer: ResultsWriter | None = None,
    group_size: int | str | None = None,
    progress: bool = False,
    mode: str = "fixed",
    radii: Sequence[float] | None = None,
    schedule: SampleSchedule | None = None,
    record_time: bool = True,
) -> CertifiedExamples:
    """CERTIFY each ``dataset[i]`` for i in ``indices`` (skipping those already in ``writer``), with
    the dataset index i as the example id that seeds its noise.

    ``group_size`` inputs share forward batches; None or ``auto`` (default): :func:`default_group_size`.
    Results do not depend on it (each input's noise is its own); a row's ``time`` is its group's wall
    time divided by the group size. Rows go to ``writer`` as soon as their group is done.
    ``mode``/``radii``/``schedule``: fixed-n or sequential CERTIFY (:meth:`Smooth.certify`).
    ``record_time=False`` writes 0 as every row's time: the rows are then a function of the config and
    seed alone, byte for byte, whatever the batch size, grouping, resume point or number of ranks.
    """
    size = group_size_setting(group_size)
    pending = [int(i) for i in indices if writer is None or int(i) not in writer.done]
    if not pending:
        return CertifiedExamples([], 0.0)
    group_size = default_group_size(smooth, batch_size, n0, n, schedule) if size is None else size
    table_seconds = smooth.prepare(int(torch.as_tensor(dataset[pending[0]][0]).numel()))
    groups = [pending[s : s + group_size] for s in range(0, len(pending), group_size)]
    iterator: Any = groups
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(groups, desc="certify", unit="group" if group_size > 1 else "img")
    rows: list[CertificationRow] = []
    noise = smooth.noise.describe()
    for group in iterator:
        items = [dataset[i] for i in group]
        xs = torch.stack([torch.as_tensor(x) for x, _ in items])
        start = time.perf_counter()
        results = smooth.certify_many(xs, n0, n, alpha, batch_size, ids=group, mode=mode, radii=radii,
                                      schedule=schedule)
        seconds = (time.perf_counter() - start) / len(group) if record_time else 0.0
        for idx, (_, label), result in zip(group, items, results):
            row = row_from_result(idx, int(label), result, seconds, noise)
            if writer is not None:
                writer.write(row)
            rows.append(row)
    return CertifiedExamples(rows, table_seconds)
