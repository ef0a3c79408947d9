"""Training losses on a tiny batch, checked against hand computation."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from rsmooth.certificates.cohen import CohenCertificate
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives import NoiseAugmentation, Stability


class ScriptedNoise(NoiseFamily):
    """Adds a scripted per-example shift: call k adds ``calls[k][i]`` to example i (hand-computable)."""

    name = "scripted"

    def __init__(self, calls: list[list[float]]) -> None:
        self.calls, self.count = calls, 0

    def _params(self) -> dict[str, Any]:
        return {"calls": self.calls}

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        shifts = torch.tensor(self.calls[self.count], dtype=x.dtype).view(-1, *([1] * (x.ndim - 1)))
        self.count += 1
        return x + shifts

    def default_certificate(self) -> CohenCertificate:  # never used: these tests only train
        return CohenCertificate(1.0)


def _model() -> nn.Module:
    """logits = W·x + c on 2-pixel inputs, 2 classes."""
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]))
        lin.bias.copy_(torch.tensor([0.1, -0.3]))
    return nn.Sequential(nn.Flatten(), lin)


X = torch.tensor([[[[0.2, 0.4]]], [[[0.9, 0.1]]]])  # (2, 1, 1, 2)
Y = torch.tensor([1, 0])
W = [[1.0, -1.0], [0.5, 2.0]]
C = [0.1, -0.3]


def _logits(x: list[float]) -> list[float]:
    return [W[k][0] * x[0] + W[k][1] * x[1] + C[k] for k in range(2)]


def _softmax(z: list[float]) -> list[float]:
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def _ce(z: list[float], y: int) -> float:
    return -math.log(_softmax(z)[y])


def _kl(zp: list[float], zq: list[float]) -> float:
    p, q = _softmax(zp), _softmax(zq)
    return sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))


def _inputs(shift: float) -> list[list[float]]:
    return [[v + shift for v in X[i].flatten().tolist()] for i in range(2)]


def test_noise_augmentation_is_cross_entropy_on_the_noisy_batch() -> None:
    out = NoiseAugmentation()(_model(), ScriptedNoise([[0.1, 0.1]]), X, Y)
    expected = sum(_ce(_logits(x), int(y)) for x, y in zip(_inputs(0.1), Y)) / 2
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-6)
    assert out.logits.shape == (2, 2)


def test_stability_noisy_anchor_matches_hand_computation() -> None:
    lam = 6.0
    out = Stability(anchor="noisy")(_model(), ScriptedNoise([[0.1, 0.1, -0.2, -0.2]]), X, Y)
    first, second = _inputs(0.1), _inputs(-0.2)
    ce = sum(_ce(_logits(x), int(y)) for x, y in zip(first, Y)) / 2
    kl = sum(_kl(_logits(a), _logits(b)) for a, b in zip(first, second)) / 2
    assert float(out.parts["ce"]) == pytest.approx(ce, rel=1e-6)
    assert float(out.parts["kl"]) == pytest.approx(kl, rel=1e-5)
    assert float(out.loss.detach()) == pytest.approx(ce + lam * kl, rel=1e-5)


def test_stability_clean_anchor_matches_hand_computation() -> None:
    out = Stability(anchor="clean")(_model(), ScriptedNoise([[0.3, 0.3]]), X, Y)
    clean, noisy = _inputs(0.0), _inputs(0.3)
    ce = sum(_ce(_logits(x), int(y)) for x, y in zip(clean, Y)) / 2
    kl = sum(_kl(_logits(a), _logits(b)) for a, b in zip(clean, noisy)) / 2
    assert float(out.loss) == pytest.approx(ce + 1.0 * kl, rel=1e-5)  # default lam = 1 for clean


def test_stability_gradient_flows_through_both_copies() -> None:
    model = _model()
    Stability(lam=2.0)(model, ScriptedNoise([[0.1, 0.1, -0.2, -0.2]]), X, Y).loss.backward()
    assert model[1].weight.grad is not None and float(model[1].weight.grad.abs().sum()) > 0


def test_stability_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="anchor"):
        Stability(anchor="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lam"):
        Stability(lam=-1.0)
