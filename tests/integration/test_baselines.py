"""certification.baselines: another run's curve drawn beside this run's, in this run's threat norm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsmooth.analysis.curves import certified_accuracy
from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.errors import ConfigError, ResultsFileError, ResultsFileNotFoundError
from tests.integration.fixtures import certify_overrides as _certify_overrides

RADII = [0.0, 0.01, 0.02, 0.05]


def _run(checkpoint: Path, tsv: Path, *extra: str) -> dict:
    overrides = _certify_overrides(checkpoint, tsv) + ["certification.max=8", f"certification.radii={RADII}", *extra]
    return certify(compose("certify", overrides))["summary"]


def test_a_baseline_is_read_in_the_runs_norm_from_its_own_radius_or_an_extra_column(
    checkpoint: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base" / "certify.tsv"
    base.parent.mkdir()
    _run(checkpoint, base, "certification.extra_certificates=[cohen_linf]")
    # an l2 run: the baseline's own (l2) radius
    run = tmp_path / "l2" / "certify.tsv"
    run.parent.mkdir()
    summary = _run(checkpoint, run, f"certification.baselines=[{base}]")
    ((label, values),) = summary["baselines"].items()
    assert "cohen" in label and values == certified_accuracy(base, RADII)
    assert label in (run.parent / "certify.summary.md").read_text()
    assert json.loads((run.parent / "certify.summary.json").read_text())["baselines"] == {label: values}
    # an l_inf run: the baseline's extra cohen_linf column
    run_linf = tmp_path / "linf" / "certify.tsv"
    run_linf.parent.mkdir()
    summary = _run(checkpoint, run_linf, "certification.certificate=cohen_linf", f"certification.baselines=[{base}]")
    ((label, values),) = summary["baselines"].items()
    assert "cohen_linf" in label and values == certified_accuracy(base, RADII, "cohen_linf")


def test_a_missing_baseline_or_one_without_the_norm_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ResultsFileNotFoundError, match="does not exist"):
        _run(checkpoint, tmp_path / "a.tsv", f"certification.baselines=[{tmp_path / 'missing.tsv'}]")
    assert not (tmp_path / "a.tsv").exists()  # refused before anything was written
    plain = tmp_path / "plain" / "certify.tsv"
    plain.parent.mkdir()
    _run(checkpoint, plain)  # l2 only
    with pytest.raises(ConfigError, match="no radius in linf"):
        _run(
            checkpoint, tmp_path / "b.tsv", "certification.certificate=cohen_linf", f"certification.baselines=[{plain}]"
        )
    # a baseline without its provenance record: refused before anything is written, unless said to be foreign
    foreign = tmp_path / "foreign.tsv"
    foreign.write_bytes(plain.read_bytes())
    with pytest.raises(ResultsFileError, match="has no provenance record .* certification.baselines_format=cohen"):
        _run(checkpoint, tmp_path / "c.tsv", f"certification.baselines=[{foreign}]")
    assert not (tmp_path / "c.tsv").exists()
    told = _run(
        checkpoint, tmp_path / "c.tsv", f"certification.baselines=[{foreign}]", "certification.baselines_format=cohen"
    )
    assert [label.endswith(", provenance unknown)") for label in told["baselines"]] == [True]
