"""Certify a fixed subset of the validation split during training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import pytorch_lightning as pl
from torch import nn

from rsmooth.analysis.curves import certified_accuracy, curve_points
from rsmooth.analysis.gather import CertificationRows
from rsmooth.analysis.metrics import summarize_rows
from rsmooth.callbacks.wandb_logging import log_certified_curve
from rsmooth.noise.base import NoiseFamily
from rsmooth.results.examples import certify_examples
from rsmooth.results.file import ResultsWriter
from rsmooth.results.rows import CertificationRow
from rsmooth.smoothing.settings import CertificationSettings
from rsmooth.smoothing.smooth import Smooth
from rsmooth.validation import check_count, from_mapping


class SmoothedModule(Protocol):
    """What the callback needs of the LightningModule it watches (``SmoothingClassifier`` has it)."""

    model: nn.Module
    noise: NoiseFamily
    num_classes: int


def radius_key(r: float) -> str:
    """The metric name of the validation subset's certified accuracy at radius r: ``val/cert_acc@0.25`` (the test
    split's, logged once training ends, is ``test/cert_acc@0.25``)."""
    return f"val/cert_acc@{r:g}"


class CertifyCallback(pl.Callback):
    """Every ``every_n_epochs`` validation epochs, run CERTIFY on a fixed subset of the validation
    split (held out of the training data, never the test split) and log ``val/cert_acc@{r}``,
    ``val/acr``, ``val/abstain``, a W&B table and line plot of the step curve, and (with
    ``output_dir``) the rows TSV ``cert_epoch{E}.tsv``.

    ``settings`` are the certification settings (a :class:`~rsmooth.smoothing.CertificationSettings`, or
    the mapping of its fields a config gives, checked once here): n0, n, alpha, the batching, the mode, the
    radii read and which examples (``skip``, ``max``, …, of the validation split). Example i draws its noise
    from (``seed``, i), never from the global RNG, so training is the same with the callback on or off.
    Skipped during the sanity check and under ``fast_dev_run``. Under DDP the subset is sharded across
    ranks and the rows gathered (:class:`~rsmooth.analysis.gather.CertificationRows`); rank 0 logs.
    """

    def __init__(
        self,
        settings: CertificationSettings | Mapping[str, Any] | None = None,
        every_n_epochs: int = 1,
        output_dir: str | None = None,
    ) -> None:
        super().__init__()
        where = "callbacks.certify.settings"
        if settings is None:
            settings = CertificationSettings(where=where)
        elif not isinstance(settings, CertificationSettings):
            settings = from_mapping(CertificationSettings, settings, where)
        self.settings = settings
        self.every_n_epochs = check_count("callbacks.certify.every_n_epochs", every_n_epochs)
        self.output_dir = Path(output_dir) if output_dir else None

    def _due(self, trainer: pl.Trainer) -> bool:
        if trainer.sanity_checking or getattr(trainer, "fast_dev_run", False):
            return False
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        return epoch % self.every_n_epochs == 0 or last

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._due(trainer):
            return
        dataset = trainer.datamodule.validation_dataset()  # type: ignore[attr-defined]  # an rsmooth ImageDataModule
        settings = self.settings
        indices = settings.select(len(dataset))
        rank, world = trainer.global_rank, trainer.world_size
        module = cast(SmoothedModule, pl_module)
        smooth = Smooth(
            module.model,
            module.noise,
            module.num_classes,
            seed=settings.seed,
            certificate=settings.certificate,
            extra_certificates=settings.extra_certificates,
        )
        mine = certify_examples(
            smooth, dataset, indices[rank::world], settings, progress=settings.progress and trainer.is_global_zero
        ).rows
        gather = CertificationRows(smooth.certificate.norm, smooth.noise.describe(), smooth.certificate.name)
        gather = gather.to(pl_module.device)
        gather.update(mine)
        rows = gather.rows()  # every rank's rows, synchronised under DDP
        summary = summarize_rows(rows, settings.radii)
        metrics = {radius_key(r): a for r, a in zip(summary.radii, summary.certified_accuracy)}
        metrics["val/acr"] = summary.acr
        metrics["val/abstain"] = summary.abstain
        # every rank holds the same gathered rows, hence the same numbers: sync_dist averages equal values (exactly:
        # (a + a) / 2 = a in floating point) and keeps Lightning's epoch-level logging consistent across ranks
        for key, value in metrics.items():
            pl_module.log(key, value, sync_dist=True)
        if trainer.is_global_zero:
            xs = curve_points(rows, max(settings.radii))
            log_certified_curve(
                trainer.loggers, "val/cert_curve", xs, certified_accuracy(rows, xs), step=trainer.global_step
            )
            if self.output_dir is not None:
                self._write(rows, trainer.current_epoch)

    def _write(self, rows: Sequence[CertificationRow], epoch: int) -> None:
        assert self.output_dir is not None
        path = self.output_dir / f"cert_epoch{epoch:03d}.tsv"
        path.unlink(missing_ok=True)  # a re-run of the same epoch (resume) replaces its snapshot
        with ResultsWriter(path) as writer:
            for row in rows:
                writer.write(row)
