"""Certify a dataset's examples into rows, and into a results file as they come."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from rsmooth.results.file import ResultsWriter
from rsmooth.results.rows import CertificationRow, row_from_result
from rsmooth.smoothing.loop import Examples, certify_dataset
from rsmooth.smoothing.settings import CertificationSettings
from rsmooth.smoothing.smooth import Smooth


@dataclass
class CertifiedExamples:
    """The rows certified by one :func:`certify_examples` call, and the seconds spent building
    certificate tables before the first row (not included in any row's ``time``)."""

    rows: list[CertificationRow]
    table_seconds: float


def certify_examples(
    smooth: Smooth,
    dataset: Examples,
    indices: Sequence[int],
    settings: CertificationSettings,
    writer: ResultsWriter | None = None,
    progress: bool | None = None,
    after_group: Callable[[int, int], None] | None = None,
) -> CertifiedExamples:
    """CERTIFY each ``dataset[i]`` for i in ``indices`` under ``settings`` (skipping those already in
    ``writer``), with the dataset index i as the example id that seeds its noise
    (:func:`~rsmooth.smoothing.loop.certify_dataset`). Rows go to ``writer`` as soon as their group is done.
    ``settings.record_time=False`` writes 0 as every row's time: the rows are then a function of the settings
    and seed alone, byte for byte, whatever the batch size, grouping, resume point or number of ranks.
    ``progress`` (default: ``settings.progress``) shows a bar over the groups; ``after_group(done, pending)`` is
    called after each group with the examples certified so far and the number this call certifies in all.
    """
    done = writer.done if writer is not None else set()
    pending = [int(i) for i in indices if int(i) not in done]
    if not pending:
        return CertifiedExamples([], 0.0)
    table_seconds = smooth.prepare(int(torch.as_tensor(dataset[pending[0]][0]).numel()))
    noise = smooth.noise.describe()
    rows: list[CertificationRow] = []
    for group in certify_dataset(smooth, dataset, pending, settings, progress=progress):
        for example in group:
            row = row_from_result(example.idx, example.label, example.result, example.seconds, noise)
            if writer is not None:
                writer.write(row)
            rows.append(row)
        if after_group is not None:
            after_group(len(rows), len(pending))
    return CertifiedExamples(rows, table_seconds)
