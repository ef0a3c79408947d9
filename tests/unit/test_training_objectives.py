"""Consistency, MACER, SmoothAdv and the denoiser objectives: each loss against a hand computation on a tiny batch,
MACER's radius against the certificates' own radius, SmoothAdv's attack against its ball and its loss, and the
frozen classifier of denoised smoothing."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from scipy.stats import norm
from torch import nn

from rsmooth.certificates.base import DifferentiableRadius
from rsmooth.certificates.cohen import CohenCertificate, DiscreteCohenCertificate
from rsmooth.certificates.lipschitz_l1 import LipschitzL1Certificate
from rsmooth.certificates.pure_dp import PureDPLinfCertificate
from rsmooth.cli.config import config_dir
from rsmooth.errors import ConfigError
from rsmooth.loading.trusted import NOISE_MODULES, instantiate_trusted
from rsmooth.models import NormalizedClassifier
from rsmooth.models.denoised import DenoisedClassifier
from rsmooth.models.denoisers import DnCNN, UNet
from rsmooth.noise import ExponentialLinfNoise, GaussianNoise, PowerL2Noise, UniformL1Noise
from rsmooth.noise.base import NoiseFamily
from rsmooth.training.objectives import (
    MACER_FAMILIES,
    Clean,
    Consistency,
    DenoiserMSE,
    DenoiserStability,
    Macer,
    SmoothAdv,
)

X = torch.tensor([[[[0.2, 0.4]]], [[[0.9, 0.1]]]])  # (2, 1, 1, 2)
Y = torch.tensor([1, 0])
W = [[1.0, -1.0], [0.5, 2.0]]
C = [0.1, -0.3]


class RowShiftNoise(NoiseFamily):
    """Adds ``shifts[i]`` to row i of whatever batch it is given (the same at every call), Cohen σ = 1."""

    name = "row_shift"

    def __init__(self, shifts: list[float], sigma: float = 1.0) -> None:
        self.shifts, self.sigma = shifts, sigma

    def _params(self) -> dict[str, Any]:
        return {"shifts": self.shifts}

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x + torch.tensor(self.shifts[: x.shape[0]], dtype=x.dtype).view(-1, *([1] * (x.ndim - 1)))

    def default_certificate(self) -> CohenCertificate:
        return CohenCertificate(self.sigma)


def _model() -> nn.Module:
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(W))
        lin.bias.copy_(torch.tensor(C))
    return nn.Sequential(nn.Flatten(), lin)


def _logits(x: list[float]) -> list[float]:
    return [W[k][0] * x[0] + W[k][1] * x[1] + C[k] for k in range(2)]


def _softmax(z: list[float]) -> list[float]:
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def _copies(shifts: list[float], m: int) -> list[list[list[float]]]:
    """copies[i][j]: example i's j-th noisy copy (rows example-major, as the objectives lay them out)."""
    rows = [X[i].flatten().tolist() for i in range(2) for _ in range(m)]
    shifted = [[v + s for v in row] for row, s in zip(rows, shifts)]
    return [shifted[i * m : (i + 1) * m] for i in range(2)]


def test_consistency_matches_hand_computation() -> None:
    shifts, lam, eta = [0.1, -0.3, 0.25, 0.05], 10.0, 0.5
    out = Consistency(lam=lam, eta=eta, m=2)(_model(), RowShiftNoise(shifts), X, Y)
    ce = kl = ent = 0.0
    for i, copies in enumerate(_copies(shifts, 2)):
        probs = [_softmax(_logits(c)) for c in copies]
        mean = [sum(p[k] for p in probs) / 2 for k in range(2)]
        ce += sum(-math.log(p[int(Y[i])]) for p in probs) / 4
        kl += sum(sum(mean[k] * math.log(mean[k] / p[k]) for k in range(2)) for p in probs) / 4
        ent += -sum(v * math.log(v) for v in mean) / 2
    assert float(out.parts["ce"]) == pytest.approx(ce, rel=1e-6)
    assert float(out.parts["kl"]) == pytest.approx(kl, rel=1e-4)
    assert float(out.parts["entropy"]) == pytest.approx(ent, rel=1e-6)
    assert float(out.loss.detach()) == pytest.approx(ce + lam * kl + eta * ent, rel=1e-5)
    assert out.logits.shape == (2, 2)


def test_clean_training_is_cross_entropy_on_the_clean_batch() -> None:
    out = Clean()(_model(), RowShiftNoise([5.0, 5.0]), X, Y)
    expected = sum(-math.log(_softmax(_logits(X[i].flatten().tolist()))[int(Y[i])]) for i in range(2)) / 2
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_macer_matches_hand_computation_and_its_radius_is_the_certificates(beta: float) -> None:
    shifts, lam, gamma, sigma = [0.1, -0.3, 0.25, 0.05], 2.0, 8.0, 0.5
    noise = RowShiftNoise(shifts, sigma)
    cert = noise.default_certificate()
    out = Macer(lam=lam, gamma=gamma, beta=beta, m=2)(_model(), noise, X, Y)
    ce = hinge = 0.0
    hinged = 0
    for i, copies in enumerate(_copies(shifts, 2)):
        logits = [_logits(c) for c in copies]
        soft = [sum(_softmax(z)[k] for z in logits) / 2 for k in range(2)]
        ce += -math.log(soft[int(Y[i])] + 1e-10) / 2
        soft_beta = [sum(_softmax([beta * v for v in z])[k] for z in logits) / 2 for k in range(2)]
        top = max(range(2), key=lambda k: soft_beta[k])
        if top != int(Y[i]):
            continue
        p1, p2 = soft_beta[top], soft_beta[1 - top]
        radius = cert.radius(p1, 2, p2)  # the certificate's own float radius, bilateral form
        assert radius == pytest.approx(sigma / 2 * (norm.ppf(p1) - norm.ppf(p2)), rel=1e-9)
        if radius <= gamma * sigma / 2:
            hinge += (gamma * sigma / 2 - radius) / 2
            hinged += 1
    assert hinged >= 1  # the hinge is exercised
    assert float(out.parts["ce"]) == pytest.approx(ce, rel=1e-5)
    assert float(out.parts["hinge"]) == pytest.approx(hinge, rel=1e-5)
    assert float(out.loss.detach()) == pytest.approx(ce + lam * hinge, rel=1e-5)


def test_macer_deferred_epochs_train_on_cross_entropy_alone() -> None:
    objective = Macer(lam=5.0, beta=1.0, m=2, deferred_epochs=2)
    noise = RowShiftNoise([0.1, -0.3, 0.25, 0.05], 0.5)
    losses = []
    for epoch in range(3):
        objective.start_epoch(epoch)
        out = objective(_model(), noise, X, Y)
        losses.append(float(out.loss.detach()) - float(out.parts["ce"]))
    hinge = float(out.parts["hinge"])
    assert hinge > 0 and losses[:2] == [0.0, 0.0] and losses[2] == pytest.approx(5.0 * hinge, rel=1e-6)


def test_macer_gradient_is_finite_when_a_probability_rounds_to_one() -> None:
    model = _model()
    with torch.no_grad():
        model[1].weight.mul_(200.0)  # softmax saturates: Φ⁻¹(1) = ∞ for some copies
    out = Macer(lam=1.0, beta=16.0, m=2)(model, RowShiftNoise([0.0, 0.0, 0.0, 0.0]), X, Y)
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


CERTIFICATES: list[DifferentiableRadius] = [
    CohenCertificate(0.5),
    CohenCertificate(0.5, norm="linf"),
    DiscreteCohenCertificate(0.5, 1e-6),
    LipschitzL1Certificate(0.8),
    PureDPLinfCertificate(0.5),
]


@pytest.mark.parametrize("cert", CERTIFICATES, ids=lambda c: c.name)  # type: ignore[attr-defined]
def test_soft_radius_is_the_certificates_radius(cert: DifferentiableRadius) -> None:
    dim = 64
    for p_a, p_b in [(0.6, 0.4), (0.9, 0.1), (0.9, 0.05), (0.99, 0.004), (0.999, 0.001), (0.55, 0.3)]:
        soft = cert.soft_radius(torch.tensor(p_a, dtype=torch.float64), torch.tensor(p_b, dtype=torch.float64), dim)
        assert float(soft) == pytest.approx(cert.radius(p_a, dim, p_b), rel=1e-9, abs=1e-12)  # type: ignore[attr-defined]
    p = torch.tensor([0.8], dtype=torch.float64, requires_grad=True)
    cert.soft_radius(p, 1 - p, dim).sum().backward()
    assert p.grad is not None and float(p.grad) > 0  # more probability, more radius


def test_macer_families_are_exactly_those_with_a_differentiable_radius() -> None:
    found = []
    for path in sorted((config_dir() / "noise").glob("*.yaml")):
        record = OmegaConf.to_container(OmegaConf.load(path))
        noise = instantiate_trusted(record, NoiseFamily, NOISE_MODULES)  # type: ignore[arg-type]
        if isinstance(noise.default_certificate(), DifferentiableRadius):
            found.append(path.stem)
    assert sorted(found) == sorted(MACER_FAMILIES)


def test_macer_refuses_a_family_without_a_differentiable_radius() -> None:
    with pytest.raises(ConfigError, match="no.*families that have one: gaussian, discrete_gaussian") as err:
        Macer().bind(_model(), PowerL2Noise(0.5, k=2.0))
    assert "\n" not in str(err.value)
    Macer().bind(_model(), GaussianNoise(0.5))  # accepted


@pytest.mark.parametrize(
    "noise,p", [(GaussianNoise(0.25), 2.0), (UniformL1Noise(0.5), 1.0), (ExponentialLinfNoise(0.5), math.inf)]
)
def test_smoothadv_attack_raises_the_soft_smoothed_loss_and_stays_in_its_ball(noise: NoiseFamily, p: float) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.rand(8, 1, 4, 4), torch.randint(0, 3, (8,))
    eps = {2.0: 0.5, 1.0: 1.0, math.inf: 0.1}[p]
    objective = SmoothAdv(eps=eps, steps=5, m=4, l1_share=0.25)
    model.train()
    buffers = {k: v.clone() for k, v in model.state_dict().items()}
    adv = objective.attack(model, noise, x, y, seed=7)
    assert model.training and all(q.requires_grad for q in model.parameters())  # restored
    assert all(torch.equal(v, buffers[k]) for k, v in model.state_dict().items())  # BN statistics untouched
    assert ((adv - x).flatten(1).norm(p=p, dim=1) <= eps * (1 + 1e-5)).all()
    assert adv.min() >= 0 and adv.max() <= 1

    def soft_loss(inputs: torch.Tensor) -> float:
        gen = torch.Generator().manual_seed(7)
        noisy = noise.perturb(inputs.repeat_interleave(4, dim=0), gen)
        with torch.no_grad():
            probs = model.eval()(noisy).softmax(1).view(8, 4, -1).mean(1)
        return float(-probs.gather(1, y.view(-1, 1)).log().sum())

    assert soft_loss(adv) > soft_loss(x) + 1e-3


def test_smoothadv_loss_is_cross_entropy_on_the_attacked_copies_with_the_attacks_noise() -> None:
    torch.manual_seed(0)
    model, noise = _model(), GaussianNoise(0.25)
    objective = SmoothAdv(eps=0.3, steps=3, m=2)
    torch.manual_seed(5)
    out = objective(model, noise, X, Y)
    torch.manual_seed(5)
    seed = int(torch.randint(2**62, (1,)))
    adv = objective.attack(model, noise, X, Y, seed)
    noisy = noise.perturb(adv.repeat_interleave(2, dim=0), torch.Generator().manual_seed(seed))
    expected = nn.functional.cross_entropy(model(noisy), Y.repeat_interleave(2))
    assert float(out.loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    assert float(out.parts["shift"]) > 0.1  # it did attack
    single = SmoothAdv(eps=0.3, steps=3, m=2, multi_noise=False)
    torch.manual_seed(5)
    one = single(model, noise, X, Y)
    assert float(one.loss.detach()) == pytest.approx(float(nn.functional.cross_entropy(model(noisy[::2]), Y)), rel=1e-6)


def test_smoothadv_one_l2_step_and_its_loss_match_hand_computation() -> None:
    """One PGD step on the linear model with two fixed noise copies per input: the gradient of
    −log((1/m) Σ_j softmax(W(x + δ + s_j) + c)_y) at δ = 0 is −(1/P) Σ_j p_j,y (w_y − Σ_k p_j,k w_k)/m, P the mean of
    p_j,y; the step of length η = 2ε is projected back onto ‖δ‖₂ = ε, then clamped to [0, 1]; the loss is CE on the
    attacked copies."""
    shifts, eps = [0.1, -0.3, 0.25, 0.05], 0.3
    out = SmoothAdv(eps=eps, steps=1, m=2, step_scale=2.0)(_model(), RowShiftNoise(shifts), X, Y)
    expected = 0.0
    for i, copies in enumerate(_copies(shifts, 2)):
        y = int(Y[i])
        probs = [_softmax(_logits(c)) for c in copies]
        mean_y = sum(p[y] for p in probs) / 2
        grad = [
            -sum(p[y] * (W[y][d] - sum(p[k] * W[k][d] for k in range(2))) for p in probs) / 2 / mean_y for d in range(2)
        ]
        length = math.hypot(*grad)
        x = X[i].flatten().tolist()
        adv = [min(1.0, max(0.0, x[d] + eps * grad[d] / length)) for d in range(2)]
        for s in shifts[2 * i : 2 * i + 2]:
            expected += -math.log(_softmax(_logits([a + s for a in adv]))[y]) / 4
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_smoothadv_warm_up_is_linear_in_epochs() -> None:
    objective = SmoothAdv(eps=1.0, warmup_epochs=4)
    seen = []
    for epoch in range(6):
        objective.start_epoch(epoch)
        seen.append(objective.current_eps())
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "make,kwargs,field",
    [
        (Consistency, {"m": 0}, "objective.m"),
        (Consistency, {"lam": -1.0}, "objective.lam"),
        (Macer, {"beta": 0.0}, "objective.beta"),
        (Macer, {"deferred_epochs": -1}, "objective.deferred_epochs"),
        (SmoothAdv, {"eps": -0.5}, "objective.eps"),
        (SmoothAdv, {"steps": 0}, "objective.steps"),
    ],
)
def test_bad_settings_are_one_line_naming_the_field(make: Any, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        make(**kwargs)


def _denoised() -> DenoisedClassifier:
    classifier = NormalizedClassifier(_model(), [0.0], [1.0])
    identity = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        identity.weight.fill_(1.0)
    return DenoisedClassifier(identity, classifier)


def test_denoiser_mse_and_stability_match_hand_computation() -> None:
    model = _denoised()
    out = DenoiserMSE()(model, RowShiftNoise([0.3, -0.2]), X, Y)
    assert float(out.loss.detach()) == pytest.approx((0.3**2 + 0.2**2) / 2, rel=1e-6)  # identity denoiser: the noise
    out = DenoiserStability()(model, RowShiftNoise([0.3, -0.2]), X, Y)
    clean = [max(range(2), key=lambda k: _logits(X[i].flatten().tolist())[k]) for i in range(2)]
    noisy = _copies([0.3, -0.2], 1)
    expected = sum(-math.log(_softmax(_logits(noisy[i][0]))[clean[i]]) for i in range(2)) / 2
    assert float(out.loss.detach()) == pytest.approx(expected, rel=1e-6)


def test_denoiser_objectives_refuse_a_plain_classifier() -> None:
    with pytest.raises(ConfigError, match="frozen_classifier.checkpoint"):
        DenoiserMSE().bind(_model(), GaussianNoise(0.25))
    DenoiserStability().bind(_denoised(), GaussianNoise(0.25))


def test_the_classifier_behind_a_denoiser_stays_frozen_and_in_eval_mode() -> None:
    torch.manual_seed(0)
    classifier = NormalizedClassifier(
        nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)),
        [0.5],
        [0.25],
    )
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    model = DenoisedClassifier(DnCNN(1, depth=3, width=8), classifier).train()
    assert not classifier.training and model.denoiser.training
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(3):
        x = torch.rand(4, 1, 8, 8)
        out = DenoiserStability()(model, GaussianNoise(0.25), x, torch.zeros(4, dtype=torch.long))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert all(torch.equal(v, before[k]) for k, v in classifier.state_dict().items())
    assert all(p.grad is None for p in classifier.parameters())


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 30, 22)])
def test_denoisers_keep_the_shape_of_any_input(shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, *shape)
    for net in (DnCNN(shape[0], depth=5, width=8), UNet(shape[0], width=4, levels=2)):
        assert net(x).shape == x.shape
