"""Certify a fixed subset of the validation split during training (SPEC §6)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl

from rsmooth.analysis.curves import certified_accuracy, curve_points
from rsmooth.analysis.metrics import CertificationRows, summarize_rows
from rsmooth.certify.loop import certify_examples, group_size_setting, select_indices
from rsmooth.certify.results_file import ResultsWriter
from rsmooth.certify.sequential import MODES, SampleSchedule
from rsmooth.certify.smooth import Smooth
from rsmooth.certify.stats import check_alpha, check_count
from rsmooth.errors import ConfigError
from rsmooth.wandb_utils import log_certified_curve


def radius_key(r: float) -> str:
    """The metric name of certified accuracy at radius r: ``cert/acc@0.25``."""
    return f"cert/acc@{r:g}"


class CertifyCallback(pl.Callback):
    """Every ``every_n_epochs`` validation epochs, run CERTIFY on a fixed subset of the validation
    split (held out of the training data, never the test split) and log ``cert/acc@{r}``,
    ``cert/acr``, ``cert/abstain``, a W&B table and line plot of the step curve, and (with
    ``output_dir``) the rows TSV ``cert_epoch{E}.tsv``.

    The subset is every ``skip``-th example, at most ``max_examples``; example i draws its noise from
    (``seed``, i), never from the global RNG, so training is the same with the callback on or off.
    Skipped during the sanity check and under ``fast_dev_run``. Under DDP the subset is sharded across
    ranks and the rows gathered (:class:`~rsmooth.analysis.metrics.CertificationRows`); rank 0 logs.
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
        group_size: int | str | None = "auto",
        seed: int = 0,
        output_dir: str | None = None,
        mode: str = "fixed",
        sequential_first: int = 1024,
        sequential_growth: float = 2.0,
        sequential_futility: float = 0.05,
        sequential_final_share: float = 0.75,
    ) -> None:
        super().__init__()
        check_alpha(alpha)
        for name, v in (("every_n_epochs", every_n_epochs), ("n0", n0), ("n", n), ("batch_size", batch_size),
                        ("skip", skip)):
            check_count(name, v)
        group_size_setting(group_size)
        self.every_n_epochs = every_n_epochs
        self.skip = skip
        self.max_examples = max_examples
        self.n0, self.n, self.alpha, self.batch_size = n0, n, alpha, batch_size
        self.radii = [float(r) for r in radii]
        self.group_size = group_size
        self.seed = check_count("seed", seed, minimum=0)
        self.output_dir = Path(output_dir) if output_dir else None
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        # sequential: n is the budget, stopping once ``radii`` are settled (same guarantee, fewer samples)
        self.schedule = SampleSchedule.geometric(
            n, sequential_first, sequential_growth, sequential_futility, sequential_final_share) if mode == "sequential" else None

    def _due(self, trainer: pl.Trainer) -> bool:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return False
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs
        return epoch % self.every_n_epochs == 0 or last

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._due(trainer):
            return
        dataset = trainer.datamodule.validation_dataset()  # type: ignore[attr-defined]
        indices = select_indices(len(dataset), skip=self.skip, max_count=self.max_examples)
        rank, world = trainer.global_rank, trainer.world_size
        smooth = Smooth(pl_module.model, pl_module.noise, pl_module.num_classes, seed=self.seed)  # type: ignore[arg-type]
        mine = certify_examples(smooth, dataset, indices[rank::world], self.n0, self.n, self.alpha,
                                self.batch_size, group_size=self.group_size, mode=self.mode, radii=self.radii,
                                schedule=self.schedule).rows
        gather = CertificationRows(smooth.certificate.norm, smooth.noise.describe(), smooth.certificate.name)
        gather = gather.to(pl_module.device)
        gather.update(mine)
        rows = gather.rows()  # every rank's rows, synchronised under DDP
        summary = summarize_rows(rows, self.radii)
        metrics = {radius_key(r): a for r, a in zip(summary.radii, summary.certified_accuracy)}
        metrics["cert/acr"] = summary.acr
        metrics["cert/abstain"] = summary.abstain
        for key, value in metrics.items():
            pl_module.log(key, value, rank_zero_only=True)
        if trainer.is_global_zero:
            xs = curve_points(rows, max(self.radii))
            log_certified_curve(trainer.loggers, "cert/curve", xs, certified_accuracy(rows, xs),
                                step=trainer.global_step)
            if self.output_dir is not None:
                self._write(rows, trainer.current_epoch)

    def _write(self, rows: Sequence, epoch: int) -> None:  # type: ignore[type-arg]
        assert self.output_dir is not None
        path = self.output_dir / f"cert_epoch{epoch:03d}.tsv"
        path.unlink(missing_ok=True)  # a re-run of the same epoch (resume) replaces its snapshot
        with ResultsWriter(path) as writer:
            for row in rows:
                writer.write(row)
