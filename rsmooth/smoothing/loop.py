"""Certify the examples of a dataset one group at a time: which examples, how many share a group, and
each example's result as soon as its group is done."""

from __future__ import annotations

import time
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from rsmooth.smoothing.settings import CertificationSettings
from rsmooth.smoothing.smooth import CertifyResult, Smooth
from rsmooth.validation import check_count


class Examples(Protocol):
    """A map-style dataset of (image, label) pairs: a data module's ``certification_dataset()``, a
    ``TensorDataset``, a list of pairs."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def select_indices(
    total: int, start: int = 0, end: int | None = None, skip: int = 1, max_count: int | None = None
) -> list[int]:
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


#: ``group_size=auto`` keeps a group's estimation samples under this (or one input): a group's rows are
#: written when it is done, so a kill loses at most this much work (at n = 10^8 a group is one input)
GROUP_SAMPLES = 1 << 22


def group_size(smooth: Smooth, settings: CertificationSettings) -> int:
    """Inputs per group: ``settings.group_size``, or for ``auto`` enough inputs to fill a batch in the
    smallest Monte Carlo phase (n0, or the first sequential stage), but no more than keep the group's
    estimation samples under :data:`GROUP_SAMPLES`; or as many of an exact family's sets of L draws as fit in
    :data:`EXACT_GROUP_BATCHES` batches."""
    if not settings.groups_automatically:
        return int(settings.group_size)
    if smooth.exact:
        return exact_group_size(settings.batch_size, int(smooth.noise.num_draws() or 1))
    schedule = settings.schedule
    smallest = min(settings.n0, settings.n, schedule.sizes[0] if schedule else settings.n)
    return max(1, min(auto_group_size(settings.batch_size, smallest), GROUP_SAMPLES // settings.n))


@dataclass(frozen=True)
class CertifiedExample:
    """One example's CERTIFY result: its dataset index (also the id that seeds its noise), its label, and
    its share of its group's wall time (0 when the settings do not record time)."""

    idx: int
    label: int
    result: CertifyResult
    seconds: float


def certify_dataset(
    smooth: Smooth,
    dataset: Examples,
    indices: Sequence[int],
    settings: CertificationSettings,
    skip: Container[int] = (),
    progress: bool | None = None,
) -> Iterator[list[CertifiedExample]]:
    """CERTIFY each ``dataset[i]`` for i in ``indices`` but those in ``skip`` (e.g. already written), with
    the dataset index i as the example id that seeds its noise; yields each group's examples when done.

    Groups of :func:`group_size` inputs share forward batches; results do not depend on the grouping
    (each input's noise is its own). Call :meth:`Smooth.prepare` first to keep the certificates' tables out
    of the first group's time. ``progress`` (default: ``settings.progress``) shows a bar over the groups and,
    within a group, one over its samples (samples per second and the time left in the group's phase).
    """
    pending = [int(i) for i in indices if int(i) not in skip]
    if not pending:
        return
    size = group_size(smooth, settings)
    groups = [pending[s : s + size] for s in range(0, len(pending), size)]
    iterator: Any = groups
    show = settings.progress if progress is None else progress
    if show:
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (a log file would get every refresh)
        iterator = tqdm(groups, desc="certify", unit="group" if size > 1 else "img", disable=None)
    for group in iterator:
        items = [dataset[i] for i in group]
        xs = torch.stack([torch.as_tensor(x) for x, _ in items])
        start = time.perf_counter()
        results = smooth.certify_with(xs, settings, ids=group, progress=bool(show))
        seconds = (time.perf_counter() - start) / len(group) if settings.record_time else 0.0
        yield [
            CertifiedExample(idx, int(label), result, seconds) for idx, (_, label), result in zip(group, items, results)
        ]
