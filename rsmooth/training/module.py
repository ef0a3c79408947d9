"""The LightningModule that trains a base classifier under a smoothing distribution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch.nn import functional as F

from rsmooth import __version__
from rsmooth.errors import ConfigError, TrainingDivergedError
from rsmooth.loading.checkpoint import CHECKPOINT_KEY, build_model
from rsmooth.loading.trusted import NOISE_MODULES, OBJECTIVE_MODULES, instantiate_trusted
from rsmooth.models.dataset_specs import dataset_spec
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective

#: optimizers and schedulers may come from torch.optim (checked to be Optimizer / LRScheduler subclasses)
TORCH_OPTIM = ("torch.optim",)
#: base seed of the validation noise (``val/acc_noisy``), which draws from its own generators
VALIDATION_SEED = 0x5EED_0F_7A1


class SmoothingClassifier(pl.LightningModule):
    """Owns the network, the noise family, the optimizer/scheduler and metrics.

    Built from plain configs (``{_target_: ...}`` mappings), which ``save_hyperparameters``
    stores, so ``SmoothingClassifier.load_from_checkpoint(path)`` rebuilds it from a checkpoint
    loaded with ``weights_only=True``; each kind of class is instantiated only from its rsmooth
    package (``rsmooth.models``, ``rsmooth.noise``, ``rsmooth.training.objectives``; ``torch.optim``
    for optimizers), plus the packages in ``trusted_modules``, which is never stored. ``data`` is the data
    module's ``info()`` (classes, shape, normalization). ``frozen_classifier``: for denoised smoothing, the
    provenance of the classifier behind the denoiser (its file's digest and record), stored in every checkpoint.
    ``initialized_from``: the provenance of the checkpoint whose weights training started from (fine-tuning, e.g.
    a stability denoiser from an MSE one), stored likewise.

    The loss is the pluggable ``objective``. Validation logs the base classifier's clean accuracy
    (``val/acc_clean``) and its accuracy under one noise draw (``val/acc_noisy``); certified
    accuracy comes from :class:`~rsmooth.callbacks.certify.CertifyCallback`. Checkpoints carry a
    record under ``checkpoint["rsmooth"]`` that :func:`rsmooth.loading.checkpoint.load_classifier` reads
    without Lightning.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        noise: Mapping[str, Any],
        data: Mapping[str, Any],
        objective: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        trusted_modules: Sequence[str] = (),
        frozen_classifier: Mapping[str, Any] | None = None,
        initialized_from: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["trusted_modules"])
        self._trusted = tuple(trusted_modules)
        self.data_spec = dataset_spec(data)
        self.num_classes = self.data_spec.num_classes
        self.model = build_model(model, self.data_spec, self._trusted)
        self.noise: NoiseFamily = instantiate_trusted(
            noise, NoiseFamily, (*NOISE_MODULES, *self._trusted), where="noise"
        )
        self.objective: Objective = instantiate_trusted(
            objective, Objective, (*OBJECTIVE_MODULES, *self._trusted), where="objective"
        )
        self.objective.bind(self.model, self.noise)  # a model or family the objective does not fit: one line, now

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_epoch_start(self) -> None:
        self.objective.start_epoch(self.current_epoch)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self.objective(self.model, self.noise, x, y)
        if not bool(torch.isfinite(out.loss)):  # the one-element check Lightning's progress bar makes anyway
            raise TrainingDivergedError(
                f"training diverged: the loss is {float(out.loss.detach())} at epoch {self.current_epoch}, "
                f"batch {batch_idx}; "
                "nothing after the last checkpoint is kept: lower optimizer.lr (or clip gradients, "
                "trainer.gradient_clip_val=...) and train again"
            )
        acc = (out.logits.argmax(dim=1) == y).float().mean()
        # sync_dist: under DDP the epoch values are the mean over every rank's batches, not rank 0's alone
        b = x.shape[0]
        self.log("train/loss", out.loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=b, sync_dist=True)
        self.log("train/acc_noisy", acc, prog_bar=True, on_step=False, on_epoch=True, batch_size=b, sync_dist=True)
        for name, value in out.parts.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=b, sync_dist=True)
        return out.loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        clean = self.model(x)
        # its own generator, seeded by (epoch, batch): validation leaves the global generators (training noise,
        # data order) untouched, so a run resumed from a checkpoint trains exactly as an uninterrupted one
        generator = torch.Generator(device=x.device).manual_seed(
            VALIDATION_SEED + 1_000_003 * self.current_epoch + batch_idx
        )
        noisy = self.model(self.noise.perturb(x, generator))
        b = x.shape[0]
        self.log("val/loss", F.cross_entropy(noisy, y), prog_bar=False, batch_size=b, sync_dist=True)
        self.log("val/acc_clean", (clean.argmax(1) == y).float().mean(), prog_bar=True, batch_size=b, sync_dist=True)
        self.log("val/acc_noisy", (noisy.argmax(1) == y).float().mean(), prog_bar=True, batch_size=b, sync_dist=True)

    def configure_optimizers(self) -> Any:
        """The optimizer (and scheduler) the config names; a value torch refuses (``optimizer.lr=-1``, a
        momentum out of range) is one :class:`~rsmooth.errors.ConfigError` line naming the group. ``train``
        calls this once before fitting, so the mistake is reported before any work."""
        allowed = (*TORCH_OPTIM, *self._trusted)
        factory = instantiate_trusted(self.hparams["optimizer"], torch.optim.Optimizer, allowed, where="optimizer")
        try:
            # a frozen part (denoised smoothing's classifier) has requires_grad False and is not optimized
            opt = factory(params=[p for p in self.model.parameters() if p.requires_grad])
        except (ValueError, TypeError) as err:
            raise ConfigError(f"optimizer: {err}") from None
        if not self.hparams.get("scheduler"):
            return opt
        sched_factory = instantiate_trusted(
            self.hparams["scheduler"], torch.optim.lr_scheduler.LRScheduler, allowed, where="scheduler"
        )
        try:
            scheduler = sched_factory(optimizer=opt)
        except (ValueError, TypeError) as err:
            raise ConfigError(f"scheduler: {err}") from None
        return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def record(self) -> dict[str, Any]:
        """What rebuilds the smoothed classifier without Lightning: model, noise (canonical), data, version; for
        denoised smoothing also where the frozen classifier came from and what trained the denoiser; for a run
        started from another checkpoint's weights, that checkpoint."""
        record = {
            "model": dict(self.hparams["model"]),
            "noise": self.noise.config(),
            "data": dict(self.hparams["data"]),
            "rsmooth_version": __version__,
        }
        if self.hparams.get("frozen_classifier"):
            record["frozen_classifier"] = dict(self.hparams["frozen_classifier"])
            record["denoiser"] = {"objective": dict(self.hparams["objective"]), "noise": self.noise.config()}
        if self.hparams.get("initialized_from"):
            record["initialized_from"] = dict(self.hparams["initialized_from"])
        return record

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # noise_state: what the exact distribution needs beyond its config (DSSN's offset vector v).
        checkpoint[CHECKPOINT_KEY] = {**self.record(), "noise_state": self.noise.state()}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        record = checkpoint.get(CHECKPOINT_KEY) or {}
        self.noise.load_state(record.get("noise_state") or {})
