"""``rsmooth-train``: train a base classifier under noise, then certify the test split.

The Hydra entry point is a thin wrapper over :func:`train`, which tests call directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rsmooth import __version__
from rsmooth.cli.certification import certify_to_tsv
from rsmooth.config import config_dir
from rsmooth.models import build_classifier
from rsmooth.training.module import SmoothingClassifier
from rsmooth.wandb_utils import finish, log_certified_curve


def _instantiate_all(group: DictConfig | None) -> list[Any]:
    """Instantiate every entry of a dict-of-configs group (loggers, callbacks), skipping nulls."""
    if not group:
        return []
    return [instantiate(c) for c in group.values() if c is not None and "_target_" in c]


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit ``cfg.model`` on ``cfg.data`` under ``cfg.noise`` with ``cfg.objective``; then (if
    ``cfg.certification.enabled``) certify the test split into ``certify.tsv`` and
    ``certified_accuracy.png`` in ``cfg.paths.output_dir``. Returns the paths and summary."""
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    dm = instantiate(cfg.data)
    model = build_classifier(instantiate(cfg.model), dm.num_classes, dm.input_shape, dm.mean, dm.std)
    noise = instantiate(cfg.noise)
    # Refuse data the noise cannot take (e.g. DSSN's q-grid) before any training.
    noise.check_input(dm.certification_dataset()[0][0].unsqueeze(0))
    record = {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "noise": noise.config(),
        "data": {**dm.info(), "config": OmegaConf.to_container(cfg.data, resolve=True)},
        "rsmooth_version": __version__,
    }
    module = SmoothingClassifier(
        model=model,
        noise=noise,
        objective=instantiate(cfg.objective),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler) if cfg.get("scheduler") else None,
        num_classes=dm.num_classes,
        record=record,
    )
    loggers = _instantiate_all(cfg.get("logger"))
    callbacks = _instantiate_all(cfg.get("callbacks"))
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks, default_root_dir=str(out))
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("resume_from"))
    checkpoint = out / "checkpoints" / "final.ckpt"
    trainer.save_checkpoint(checkpoint)

    result: dict[str, Any] = {"output_dir": out, "checkpoint": checkpoint}
    cert = cfg.certification
    if cert.enabled and trainer.is_global_zero:
        tsv = out / "certify.tsv"
        summary = certify_to_tsv(module.model, noise, dm.num_classes, dm.certification_dataset(), cert, tsv)
        for lg in loggers:
            lg.log_metrics(
                {f"test/cert_acc@{r:g}": a for r, a in zip(summary["radii"], summary["certified_accuracy"])}
                | {"test/acr": summary["acr"], "test/abstain": summary["abstain"]}
            )
        log_certified_curve(loggers, "test/cert_curve", summary["radii"], summary["certified_accuracy"])
        result.update(certify_tsv=tsv, plot=out / "certified_accuracy.png", summary=summary)
        print("certified accuracy:", ", ".join(f"r={r:g}: {a:.3f}" for r, a in zip(summary["radii"], summary["certified_accuracy"])))
    finish(loggers)
    print(f"outputs: {out.resolve()}")
    return result


@hydra.main(config_path=str(config_dir()), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
