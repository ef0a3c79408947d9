"""Same seed, same noise, across versions: each family's first draws from a fixed seed, pinned.

A result file records each family's ``stream_revision``; a resumed run refuses rows of another revision.
That only protects users if every change to what a seed draws raises the revision. This test fails on
any such change (values to 1e-5: the last bit of ``randn`` may differ between CPUs' vector paths, a
changed stream differs everywhere). If it fails because you changed a sampler on purpose: raise the
family's ``stream_revision`` and pin the new values together with it.
"""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from rsmooth.cli.config import compose, config_dir
from rsmooth.noise import NoiseFamily

#: name → (stream_revision, z at flat positions 0, 1, 63, 64, 100, 255 of 4 copies of a 1×8×8 input, Σ|z|)
PINNED = {
    "discrete_gaussian": (1, [0.292157, 0.1, -0.068627, 0.578431, 0.154902, -0.127451], 52.2118),
    "exponential_linf": (1, [0.368557, 0.176072, -0.157589, 0.130823, -0.249846, -0.148549], 56.1991),
    "gaussian": (1, [-0.045978, 0.18241, 0.208766, 0.150715, 0.25102, -0.030015], 50.9827),
    "linf_power": (1, [1.71184, 0.817801, -0.731954, 0.572909, -1.094144, -0.68592], 256.6138),
    "mixed_linf": (2, [0.04744, -0.434701, 0.243012, 0.440407, 0.234079, 0.122933], 52.4887),
    "power_l2": (1, [0.066011, 0.019821, 0.241241, 0.446225, -0.206638, 0.192615], 55.2854),
    "ssn": (1, [0.132053, 0.218165, -0.170943, 0.167467, -0.058636, -0.035559], 18.5933),
    "uniform_l1": (1, [-0.60192, -0.429695, -0.207911, -0.53109, 0.016702, 0.062857], 105.3545),
}
#: DSSN (q = 255, L = 441): draws 0, 5 and L − 1 of the mid-grey image, at flat positions 0, 1, 63, 64, 100, 191
PINNED_DSSN = (1, [0.5, 0.5, 0.336275, 0.5, 0.579412, 0.334314], 95.0147)
POSITIONS = [0, 1, 63, 64, 100, 255]


def conf_noise(name: str) -> NoiseFamily:
    return instantiate(compose("train", [f"noise={name}"]).noise)  # type: ignore[no-any-return]


def test_every_family_is_pinned() -> None:
    names = {p.stem for p in (config_dir() / "noise").glob("*.yaml")}
    assert names == {*PINNED, "dssn"}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_first_draws_from_a_fixed_seed_are_pinned(name: str) -> None:
    noise = conf_noise(name)
    revision, values, total = PINNED[name]
    x = torch.full((4, 1, 8, 8), 0.5)
    z = (noise.perturb(x, torch.Generator().manual_seed(2026)) - 0.5).view(-1)
    assert noise.stream_revision == revision
    assert z[POSITIONS].tolist() == pytest.approx(values, abs=1e-5)
    assert float(z.abs().sum()) == pytest.approx(total, abs=1e-3)


def test_dssn_draws_are_pinned() -> None:
    noise = conf_noise("dssn")
    revision, values, total = PINNED_DSSN
    x = torch.full((3, 1, 8, 8), round(0.5 * noise.q) / noise.q)
    out = noise.perturb_draws(x, torch.tensor([0, 5, noise.num_draws() - 1])).view(-1)
    assert noise.stream_revision == revision and noise.num_draws() == 441
    assert out[[0, 1, 63, 64, 100, 191]].tolist() == pytest.approx(values, abs=1e-5)
    assert float(out.sum()) == pytest.approx(total, abs=1e-3)
