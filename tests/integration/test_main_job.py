"""The embedded main job, exactly as `rsmooth-train` runs it with no overrides (slow: ~2–3 min)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsmooth.analysis import certified_accuracy
from rsmooth.cli.config import compose
from rsmooth.cli.train import train
from rsmooth.results import read_rows


@pytest.mark.slow
def test_main_job_meets_its_certified_accuracy_targets(tmp_path: Path) -> None:
    cfg = compose("train", [f"paths.output_dir={tmp_path}", "certification.progress=false"])
    assert (cfg.certification.n0, cfg.certification.n, cfg.certification.alpha) == (100, 10_000, 0.001)
    result = train(cfg)
    rows = read_rows(result["certify_tsv"])
    assert len(rows) == 359  # every digits test image
    acc0, acc05 = certified_accuracy(rows, [0.0, 0.5])
    assert acc0 >= 0.90
    assert acc05 >= 0.50
