"""A new family needs no edit to the engine, the CLI or checkpoint loading (core v2).

``TabledGaussianNoise`` is defined here, in the test: Gaussian noise whose certificate reads the
radius from a table of Φ⁻¹ built once (slowly) before the per-input loop, and which carries its own
extra failure probability. It goes through ``rsmooth-certify`` exactly as a shipped family would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from rsmooth.certificates import BoundCertificate
from rsmooth.certificates.base import runner_up_bound
from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.noise import GaussianNoise
from rsmooth.results import read_provenance, read_rows
from tests.integration.fixtures import certify_overrides as _certify_overrides

EXTRA_ALPHA = 1e-4
BUILD_SECONDS = 0.8


class TabledCertificate(BoundCertificate):
    """σ·Φ⁻¹(p̲_A) read from a table on a grid of p, rounded *down* to the grid (sound); the table
    stands in for a Monte Carlo one, so it adds its own failure probability."""

    base_name = "tabled"
    norm = "l2"
    builds = 0

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.sigma = sigma
        self.table: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def prepare(self, dim: int) -> None:
        if dim in self.table:
            return
        time.sleep(BUILD_SECONDS)  # an expensive table
        grid = np.linspace(0.5, 1.0, 2001)[:-1]
        self.table[dim] = (grid, norm.ppf(grid))
        type(self).builds += 1

    def failure_probability(self, alpha: float) -> float:
        return alpha + EXTRA_ALPHA

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        if not p_lower > runner_up_bound(p_lower, p_upper_runner_up):
            return 0.0
        grid, inv = self.table[dim]
        i = int(np.searchsorted(grid, p_lower, side="right")) - 1  # largest grid p ≤ p_lower
        return max(0.0, self.sigma * float(inv[i]))

    def params(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "extra_alpha": EXTRA_ALPHA}


class TabledGaussianNoise(GaussianNoise):
    name = "tabled_gaussian"

    def __init__(self, sigma: float) -> None:
        super().__init__(sigma)
        self._certificate = TabledCertificate(self.sigma)

    def _params(self) -> dict[str, Any]:
        return {"sigma": self.sigma}

    def default_certificate(self) -> TabledCertificate:  # type: ignore[override]
        return self._certificate

    def certificates(self) -> list:  # type: ignore[override]
        return [self._certificate, *super().certificates()]


def test_a_family_defined_in_a_test_certifies_through_the_cli(checkpoint: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "tabled.tsv"
    TabledCertificate.builds = 0
    target = f"{__name__}.TabledGaussianNoise"
    overrides = _certify_overrides(checkpoint, tsv) + [
        f"+noise._target_={target}",
        "+noise.sigma=0.25",
        "certification.max=6",
        "certification.extra_certificates=[cohen]",
    ]
    result = certify(compose("certify", overrides))
    rows = read_rows(tsv)
    assert len(rows) == 6 and TabledCertificate.builds == 1  # built once, before the loop
    # the rows report the total failure probability α + α_extra, and the provenance names it
    assert all(r.alpha == pytest.approx(0.001 + EXTRA_ALPHA) and r.certificate == "tabled" for r in rows)
    certs = read_provenance(tsv)["certificates"]  # type: ignore[index]
    assert certs[0]["name"] == "tabled" and certs[0]["failure_probability"] == pytest.approx(0.001 + EXTRA_ALPHA)
    # the build time is reported apart, and is in no row's time
    assert result["summary"]["table_seconds"] >= BUILD_SECONDS
    assert rows[0].time < BUILD_SECONDS
    assert json.loads((tmp_path / "tabled.summary.json").read_text())["table_seconds"] >= BUILD_SECONDS
    # the table radius is sound (never above Cohen's from the same counts, the extra column) and within
    # one grid step (Δp = 1/4000) of it
    certified = [r for r in rows if r.predict >= 0]
    assert certified
    for r in certified:
        assert r.radius <= r.extra_radii["cohen"] + 1e-12
        assert r.radius >= 0.25 * norm.ppf(max(0.5, r.p_lower - 1 / 4000)) - 1e-6  # type: ignore[operator]


def test_a_revised_sampler_stream_is_recorded_and_never_resumed_into(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A family whose sampler changed the values it draws from a seed raises ``stream_revision``; the
    results file records it, and rows of the older stream are not mixed with the new ones."""
    tsv = tmp_path / "s.tsv"
    overrides = _certify_overrides(checkpoint, tsv) + ["certification.max=2"]
    certify(compose("certify", overrides))
    assert "stream_revision" not in read_provenance(tsv)["randomness"]  # type: ignore[index]  # revision 1
    monkeypatch.setattr(GaussianNoise, "stream_revision", 2)
    with pytest.raises(Exception, match=r"randomness\.stream_revision"):
        certify(compose("certify", [*overrides[:-1], "certification.max=4"]))
    assert len(read_rows(tsv)) == 2
    fresh = tmp_path / "s2.tsv"
    certify(compose("certify", _certify_overrides(checkpoint, fresh) + ["certification.max=2"]))
    assert read_provenance(fresh)["randomness"]["stream_revision"] == 2  # type: ignore[index]
