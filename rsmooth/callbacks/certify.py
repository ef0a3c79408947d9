"""Certify a fixed validation subset during training (SPEC §6)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from rsmooth.analysis.curves import abstain_rate, average_certified_radius, certified_accuracy
from rsmooth.certify.results import CertificationRow, ResultsWriter, select_indices
from rsmooth.certify.run import certify_dataset
from rsmooth.certify.smooth import Smooth
from rsmooth.certify.stats import check_alpha
from rsmooth.wandb_utils import log_certified_curve


def radius_key(r: float) -> str:
    """The metric name of certified accuracy at radius r: ``cert/acc@0.25``."""
    return f"cert/acc@{r:g}"


class CertifyCallback(pl.Callback):
    """Every ``every_n_epochs`` validation epochs, run CERTIFY on a fixed subset of the
    test split and log ``cert/acc@{r}``, ``cert/acr``, ``cert/abstain``, a W&B table and
    line plot of the curve, and (with ``output_dir``) the rows TSV ``cert_epoch{E}.tsv``.

    The subset is every ``skip``-th example, at most ``max_examples``. Skipped during the
    sanity check and under ``fast_dev_run``. Under DDP the subset is sharded across ranks
    and the rows gathered before logging.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        skip: int = 1,
        max_examples: int = 100,
        n0: int = 50,
        n: int = 500,
        alpha: float = 0.001,
        batch_size: int = 1000,
        radii: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        group_size: int = 8,
        output_dir: str | None = None,
    ) -> None:
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}")
        check_alpha(alpha)
        for name, v in (("n0", n0), ("n", n), ("batch_size", batch_size), ("skip", skip), ("group_size", group_size)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        self.every_n_epochs = every_n_epochs
        self.skip = skip
        self.max_examples = max_examples
        self.n0, self.n, self.alpha, self.batch_size = n0, n, alpha, batch_size
        self.radii = [float(r) for r in radii]
        self.group_size = group_size
        self.output_dir = Path(output_dir) if output_dir else None
        self.last_metrics: dict[str, float] = {}

    def _due(self, trainer: pl.Trainer) -> bool:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return False
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        return epoch % self.every_n_epochs == 0 or last

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._due(trainer):
            return
        dataset = trainer.datamodule.certification_dataset()  # type: ignore[attr-defined]
        indices = select_indices(len(dataset), skip=self.skip, max_count=self.max_examples)
        rank, world = trainer.global_rank, trainer.world_size
        smooth = Smooth(pl_module.model, pl_module.noise, pl_module.num_classes)  # type: ignore[arg-type]
        rows = certify_dataset(
            smooth, dataset, indices[rank::world], self.n0, self.n, self.alpha, self.batch_size,
            group_size=self.group_size,
        )
        rows = self._gather(rows, world)
        metrics = {radius_key(r): a for r, a in zip(self.radii, certified_accuracy(rows, self.radii))}
        metrics["cert/acr"] = average_certified_radius(rows)
        metrics["cert/abstain"] = abstain_rate(rows)
        self.last_metrics = metrics
        for key, value in metrics.items():
            pl_module.log(key, value, rank_zero_only=True)
        if trainer.is_global_zero:
            accs = [metrics[radius_key(r)] for r in self.radii]
            log_certified_curve(trainer.loggers, "cert/curve", self.radii, accs, step=trainer.global_step)
            if self.output_dir is not None:
                self._write(rows, trainer.current_epoch)

    @staticmethod
    def _gather(rows: list[CertificationRow], world: int) -> list[CertificationRow]:
        if world <= 1 or not torch.distributed.is_available() or not torch.distributed.is_initialized():
            return rows
        gathered: list[Any] = [None] * world
        torch.distributed.all_gather_object(gathered, rows)
        return sorted((r for part in gathered for r in part), key=lambda r: r.idx)

    def _write(self, rows: list[CertificationRow], epoch: int) -> None:
        assert self.output_dir is not None
        path = self.output_dir / f"cert_epoch{epoch:03d}.tsv"
        if path.exists():
            path.unlink()  # a re-run of the same epoch (resume) replaces its snapshot
        with ResultsWriter(path) as writer:
            for row in rows:
                writer.write(row)
