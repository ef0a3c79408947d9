"""The certification job shared by ``rsmooth-train`` (after fitting) and ``rsmooth-certify``:
settings → ``Smooth`` → results file with provenance → rows → summary and plot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rsmooth.analysis.summary import summarize_file
from rsmooth.analysis.tables import grouped
from rsmooth.cli.console import on_a_terminal
from rsmooth.cli.schema import CertificationJobSettings
from rsmooth.errors import ConfigError, ResultsFileError, ResultsFileNotFoundError
from rsmooth.noise.base import NoiseFamily
from rsmooth.results.examples import certify_examples
from rsmooth.results.file import ResultsWriter, merge_parts, part_path, parts_dir, read_rows, required_provenance
from rsmooth.results.provenance import examples_digest, run_record
from rsmooth.smoothing.loop import Examples
from rsmooth.smoothing.ranks import joined_ranks
from rsmooth.smoothing.settings import resolve_device
from rsmooth.smoothing.smooth import Smooth


class EstimatedTime:
    """Says once, as soon as the first group of examples is certified (after at least ``after_s`` seconds),
    how long the rest will take when that is more than ``long_s``: a certification at Cohen et al.'s n = 100 000
    costs ten times the default one, and a user should know before waiting, not after."""

    def __init__(self, settings: CertificationJobSettings, enabled: bool, long_s: float = 120.0, after_s: float = 2.0):
        self.settings, self.enabled, self.long_s, self.after_s = settings, enabled, long_s, after_s
        self.start = time.perf_counter()
        self.said = False

    def __call__(self, done: int, pending: int) -> None:
        elapsed = time.perf_counter() - self.start
        if self.said or not self.enabled or done == 0 or done >= pending or elapsed < self.after_s:
            return
        self.said = True
        each = elapsed / done
        remaining = each * (pending - done)
        if remaining < self.long_s:
            return
        minutes = remaining / 60
        span = f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"
        cheaper = (
            "; certification.n=10000 costs about a tenth"
            if self.settings.mode == "fixed" and self.settings.n >= 100_000
            else ""
        )
        print(
            f"estimated {span} for the {pending - done} examples left ({each:.2f} s each at "
            f"n = {grouped(self.settings.n)}{cheaper}); rows are saved as they finish, so a rerun resumes",
            flush=True,
        )


def run_certification_job(
    model: nn.Module,
    noise: NoiseFamily,
    num_classes: int,
    dataset: Examples,
    data_info: dict[str, Any],
    settings: CertificationJobSettings,
    tsv: Path,
    checkpoint: dict[str, Any],
) -> dict[str, Any]:
    """Certify the examples ``settings`` select (start/end/skip/max) into ``tsv``, resuming after the rows
    already there (same provenance only); then write the plot and summary beside it. Returns the
    summary plus ``new_rows``, ``already`` and ``table_seconds`` (certificate tables, not in any row).

    Launched on several ranks (torchrun, srun, Lightning DDP; :mod:`rsmooth.smoothing.ranks`), the examples
    not yet in ``tsv`` are dealt out in interleaved order (rank r takes every world-th, so slow and fast
    examples spread evenly); each rank writes its own file (``tsv.parts/rank{r}.tsv``, resumable) and rank
    0 merges them into ``tsv`` ordered by idx, then summarizes. Rows are those of one process: each
    example's noise comes from (seed, idx). Ranks other than 0 return ``new_rows`` and ``already`` only.
    """
    # Everything a user can get wrong is checked before the results file is touched.
    for path in settings.baselines:  # a missing or unchecked baseline is refused now, not after hours of certifying
        if not Path(path).is_file():
            raise ResultsFileNotFoundError(f"certification.baselines: {path!r} does not exist")
        required_provenance(path, "certification.baselines", settings.baselines_format)
    device = resolve_device(settings.device)
    with joined_ranks(device) as ranks:
        smooth = Smooth.from_settings(model, noise, num_classes, settings, ranks.device(device))
        indices = settings.select(len(dataset))
        if not indices:
            raise ConfigError(
                f"certification.start={settings.start}, end={settings.end}, skip={settings.skip}, "
                f"max={settings.max} select no example of the {len(dataset)} in the test split"
            )
        first = torch.as_tensor(dataset[indices[0]][0])
        noise.check_input(first.unsqueeze(0))  # e.g. DSSN's q-grid
        smooth.counter.check_outputs(first, f"the clean input of id {indices[0]}")  # NaN weights: before any file
        data = {**data_info, "split": "test", "size": len(dataset), **examples_digest(dataset)}
        extra = [c.name for c in smooth.extra_certificates]
        record = run_record(smooth, settings, checkpoint, data)
        tsv = Path(ranks.broadcast(str(tsv)))  # Hydra dates each process's run directory: rank 0's is the one
        refused = None
        if ranks.is_zero and (ranks.distributed or parts_dir(tsv).is_dir()):
            try:
                merge_parts(tsv, record, extra)  # rows an earlier sharded run left in its rank files
            except ResultsFileError as err:
                refused = str(err)
        refused = ranks.broadcast(refused)  # every rank stops with rank 0's reason (none waits for it)
        if refused:
            raise ResultsFileError(refused)
        mine, already = indices, 0
        if ranks.distributed:
            done = {r.idx for r in read_rows(tsv)}
            remaining = [i for i in indices if i not in done]
            mine, already = remaining[ranks.rank :: ranks.world], len(indices) - len(remaining)
        with ResultsWriter(part_path(tsv, ranks.rank) if ranks.distributed else tsv, record, extra) as writer:
            already += len(writer.done)
            done_now = certify_examples(
                smooth,
                dataset,
                mine,
                settings,
                writer=writer,
                progress=settings.progress and ranks.is_zero and on_a_terminal(),
                after_group=EstimatedTime(settings, ranks.is_zero) if ranks.is_zero else None,
            )
        ranks.barrier()
        if ranks.distributed and ranks.is_zero:
            merge_parts(tsv, record, extra)
    info = {"new_rows": len(done_now.rows), "already": already, "table_seconds": done_now.table_seconds}
    if not ranks.is_zero:
        print(f"rank {ranks.rank}: certified {info['new_rows']} new examples; rank 0 merged them into {tsv}")
        return info
    if done_now.table_seconds > 0.01:
        print(f"certificate tables built in {done_now.table_seconds:.2f} s (before the first row; in no row's time)")
    return summarize_file(
        tsv,
        settings.radii,
        smooth.certificate.norm,
        extra=info,
        baselines=settings.baselines,
        baselines_format=settings.baselines_format,
    )
