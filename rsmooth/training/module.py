"""The LightningModule that trains a base classifier under a smoothing distribution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives.base import Objective

OptimizerFactory = Callable[..., torch.optim.Optimizer]
SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]

CHECKPOINT_KEY = "rsmooth"


class SmoothingClassifier(pl.LightningModule):
    """Owns the network, the noise family, the optimizer/scheduler and metrics.

    The loss is the pluggable ``objective``. Validation logs the base
    classifier's clean accuracy (``val/acc_clean``) and its accuracy under one
    noise draw (``val/acc_noisy``); certified accuracy comes from the
    :class:`~rsmooth.callbacks.certify.CertifyCallback`.

    ``record`` is what a checkpoint must know to rebuild the smoothed
    classifier (model factory config, noise config, data info); it is stored
    under ``checkpoint["rsmooth"]``.
    """

    def __init__(
        self,
        model: nn.Module,
        noise: NoiseFamily,
        objective: Objective,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        num_classes: int | None = None,
        record: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.noise = noise
        self.objective = objective
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.num_classes = num_classes
        self.record = dict(record or {})
        self.record.setdefault("noise", noise.config())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self.objective(self.model, self.noise, x, y)
        acc = (out.logits.argmax(dim=1) == y).float().mean()
        self.log("train/loss", out.loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=x.shape[0])
        self.log("train/acc_noisy", acc, prog_bar=True, on_step=False, on_epoch=True, batch_size=x.shape[0])
        for name, value in out.parts.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True, batch_size=x.shape[0])
        return out.loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        clean = self.model(x)
        noisy = self.model(self.noise.perturb(x))
        b = x.shape[0]
        self.log("val/loss", F.cross_entropy(noisy, y), prog_bar=False, batch_size=b, sync_dist=True)
        self.log("val/acc_clean", (clean.argmax(1) == y).float().mean(), prog_bar=True, batch_size=b, sync_dist=True)
        self.log("val/acc_noisy", (noisy.argmax(1) == y).float().mean(), prog_bar=True, batch_size=b, sync_dist=True)

    def configure_optimizers(self) -> Any:
        opt = self.optimizer_factory(params=self.model.parameters())
        if self.scheduler_factory is None:
            return opt
        sched = self.scheduler_factory(optimizer=opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # noise_state: what the exact distribution needs beyond its config (DSSN's offset vector v).
        checkpoint[CHECKPOINT_KEY] = {**self.record, "noise_state": self.noise.state()}
