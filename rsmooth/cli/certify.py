"""``rsmooth-certify``: certify a dataset split from a training checkpoint into a TSV.

Rows are flushed one by one; re-running the same command resumes after the last
written idx. The Hydra entry point is a thin wrapper over :func:`certify`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from rsmooth.checkpoint import check_data_matches, load_classifier, select_noise
from rsmooth.cli.certification import certify_to_tsv
from rsmooth.config import config_dir


def certify(cfg: DictConfig) -> dict[str, Any]:
    """Certify ``cfg.checkpoint``'s smoothed classifier on the test split of ``cfg.data``
    (default: the data it was trained on) under ``cfg.noise`` (default: its training noise)."""
    if not cfg.get("checkpoint"):
        raise ValueError("checkpoint=PATH is required (a .ckpt written by rsmooth-train)")
    loaded = load_classifier(cfg.checkpoint)
    noise = select_noise(loaded, instantiate(cfg.noise) if cfg.get("noise") else None)
    data_cfg = cfg.data if cfg.get("data") else loaded.record["data"]["config"]
    dm = instantiate(data_cfg)
    check_data_matches(loaded.record, dm.info())
    cert = cfg.certification
    out = Path(cfg.paths.output_dir)
    tsv = Path(cfg.output) if cfg.get("output") else out / "certify.tsv"
    summary = certify_to_tsv(loaded.model, noise, loaded.num_classes, dm.certification_dataset(), cert, tsv)
    print(f"certified {summary['new_rows']} new examples ({summary['already']} already in the file)")
    print(f"outputs: {tsv.resolve()}")
    return {"certify_tsv": tsv, "new_rows": summary["new_rows"], "summary": summary}


@hydra.main(config_path=str(config_dir()), config_name="certify", version_base="1.3")
def main(cfg: DictConfig) -> None:
    certify(cfg)


if __name__ == "__main__":
    main()
