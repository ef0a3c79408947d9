"""CERTIFY / PREDICT against known analytic cases (Cohen et al. 2019)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rsmooth.certificates import ABSTAIN
from rsmooth.errors import RsmoothError
from rsmooth.noise import GaussianNoise
from rsmooth.smoothing import Phase, Smooth
from tests.conftest import CountingModel, LinearTwoClass


def _linear_case(margin: float, d: int = 16) -> tuple[LinearTwoClass, torch.Tensor, float]:
    """A two-class linear classifier (the same for every margin) and an input at signed ℓ2
    distance ``margin`` from its boundary: x = 0.5·1 + margin·w/‖w‖, with wᵀ(0.5·1) + b = 0."""
    w = torch.randn(d, generator=torch.Generator().manual_seed(0))
    b = -0.5 * float(w.sum())
    x = (0.5 + margin * w / w.norm()).view(1, 4, 4)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    return LinearTwoClass(w, b), x, abs(margin)


@pytest.mark.parametrize("margin", [0.1, 0.3, -0.2])
def test_linear_classifier_radius_is_sound_and_tight(margin: float) -> None:
    """Cohen Prop. 4: for f(x) = sign(wᵀx+b), g = f and the exact ℓ2 radius is |wᵀx+b|/‖w‖.

    With large n the certified radius must be ≤ that distance and within 5% of it.
    """
    model, x, exact = _linear_case(margin)
    smooth = Smooth(model, GaussianNoise(0.25), num_classes=2)
    cert = smooth.certify(x, n0=100, n=200_000, alpha=0.001, batch_size=50_000)
    assert cert.prediction == (1 if margin > 0 else 0)
    assert cert.radius <= exact
    assert cert.radius >= 0.95 * exact
    assert cert.norm == "l2" and cert.n == 200_000
    # the closed-form attack δ* = −(wᵀx+b)w/‖w‖² reaches the boundary at exactly ‖δ*‖ = R: 10 % short of it g
    # keeps its class, 10 % past it g flips (PREDICT at large n; g = f for a linear f)
    w, b = model.w, model.b
    delta = -(float(x.flatten() @ w) + b) * w / float(w @ w)
    assert float(delta.norm()) == pytest.approx(exact, rel=1e-5)
    for scale, expected in ((0.9, cert.prediction), (1.1, 1 - cert.prediction)):
        moved = (x.flatten() + scale * delta).view(1, 4, 4)
        assert smooth.predict(moved, n=200_000, alpha=0.001, batch_size=50_000).prediction == expected


def test_linf_radius_of_linear_classifier_is_l2_over_sqrt_d() -> None:
    model, x, exact = _linear_case(0.3)
    smooth = Smooth(model, GaussianNoise(0.25, norm="linf"), num_classes=2)
    cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001, batch_size=50_000)
    assert cert.norm == "linf"
    assert cert.radius <= exact / 4.0  # √d = 4
    assert cert.radius >= 0.95 * exact / 4.0


class ConstantVotes(nn.Module):
    """Votes class 1 on a fixed fraction of each batch position (deterministic given batch order)."""

    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.probs = torch.tensor(probs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        u = (torch.arange(b, dtype=torch.float64) + 0.5) / b
        cls = torch.searchsorted(torch.cumsum(self.probs.double(), 0), u).clamp_max(len(self.probs) - 1)
        return nn.functional.one_hot(cls, len(self.probs)).float()


def test_abstains_when_lower_bound_is_at_most_one_half() -> None:
    # p_A = 0.5 exactly (up to batch rounding): the lower bound is below 1/2
    smooth = Smooth(ConstantVotes([0.5, 0.5]), GaussianNoise(0.25), 2)
    cert = smooth.certify(torch.rand(1, 4, 4), n0=100, n=1000, alpha=0.001, batch_size=1000)
    assert cert.prediction == ABSTAIN and cert.radius == 0.0 and cert.abstained
    assert cert.p_lower <= 0.5
    # p_A = 0.52 with n = 1000: p̲_A < 1/2, still abstain
    smooth = Smooth(ConstantVotes([0.48, 0.52]), GaussianNoise(0.25), 2)
    cert = smooth.certify(torch.rand(1, 4, 4), n0=100, n=1000, alpha=0.001, batch_size=1000)
    assert cert.prediction == ABSTAIN and cert.radius == 0.0


def test_certifies_when_lower_bound_exceeds_one_half() -> None:
    smooth = Smooth(ConstantVotes([0.1, 0.0, 0.9]), GaussianNoise(0.5), 3)
    cert = smooth.certify(torch.rand(1, 4, 4), n0=100, n=1000, alpha=0.001, batch_size=1000)
    from scipy.stats import beta, norm

    p = beta.ppf(0.001, cert.count, 1000 - cert.count + 1)
    assert cert.prediction == 2 and cert.count == 900
    assert cert.p_lower == pytest.approx(p)
    assert cert.radius == pytest.approx(0.5 * norm.ppf(p))


class FirstThenSecond(nn.Module):
    """Votes class 0 for the first ``switch`` samples it ever sees, class 1 afterwards."""

    def __init__(self, switch: int) -> None:
        super().__init__()
        self.switch, self.seen = switch, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(self.seen, self.seen + x.shape[0])
        self.seen += x.shape[0]
        return nn.functional.one_hot((idx >= self.switch).long(), 2).float()


@pytest.mark.parametrize("batch_size", [7, 100, 5000])
def test_selection_and_estimation_samples_are_separate(batch_size: int) -> None:
    """ĉ_A must come from the n0 selection draws and n_A from n fresh draws only.

    The classifier votes 0 on exactly the first n0 samples and 1 afterwards: the
    selection picks class 0, and if any selection sample were reused in the
    estimate, n_A would be > 0.
    """
    n0, n = 100, 1000
    model = FirstThenSecond(switch=n0)
    smooth = Smooth(model, GaussianNoise(0.25), 2)
    cert = smooth.certify(torch.rand(1, 4, 4), n0=n0, n=n, alpha=0.001, batch_size=batch_size)
    assert model.seen == n0 + n  # exactly n0 + n base evaluations
    assert cert.count == 0 and cert.prediction == ABSTAIN


def test_certify_many_shares_batches_but_keeps_inputs_apart() -> None:
    model, x, exact = _linear_case(0.3)
    _, x_neg, _ = _linear_case(-0.3)
    counting = CountingModel(model)
    smooth = Smooth(counting, GaussianNoise(0.25), 2)
    xs = torch.stack([x, x_neg, x])
    certs = smooth.certify_many(xs, n0=50, n=3000, alpha=0.001, batch_size=1024)
    assert [c.prediction for c in certs] == [1, 0, 1]
    assert counting.seen == 3 * (50 + 3000)
    assert all(c.radius <= exact for c in certs)


def test_counts_are_per_input() -> None:
    model, x, _ = _linear_case(0.4)  # 40σ from the boundary: every vote is class 1
    _, x_neg, _ = _linear_case(-0.4)
    smooth = Smooth(model, GaussianNoise(0.01), 2)
    counts = smooth.counter.count(torch.stack([x, x_neg]), 333, Phase.ESTIMATION, [0, 1], batch_size=100)
    assert counts.tolist() == [[0, 333], [333, 0]]


def test_predict_abstains_on_a_fifty_fifty_classifier() -> None:
    """f(x + z) = 1[z₁ > 0]-style classifier at its boundary: P(class 1) = 1/2 exactly."""

    class SignOfNoise(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = x.flatten(1)[:, 0] - 0.5
            return torch.stack([-s, s], dim=1)

    x = torch.full((1, 2, 2), 0.5)
    smooth = Smooth(SignOfNoise(), GaussianNoise(0.25), 2, seed=3)
    abstentions = sum(smooth.predict(x, n=2000, alpha=0.001, batch_size=500).prediction == ABSTAIN for _ in range(20))
    assert abstentions == 20


def test_predict_returns_the_clear_winner() -> None:
    model, x, _ = _linear_case(0.5)
    smooth = Smooth(model, GaussianNoise(0.25), 2)
    pred = smooth.predict(x, n=1000, alpha=0.001, batch_size=256)
    assert pred.prediction == 1 and pred.p_value < 1e-10 and sum(pred.counts) == 1000


def test_bilateral_mode_is_sound_on_the_linear_case() -> None:
    model, x, exact = _linear_case(0.3)
    smooth = Smooth(model, GaussianNoise(0.25), 2)
    smooth = Smooth(model, GaussianNoise(0.25), 2, certificate="cohen_bilateral")
    cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001, batch_size=50_000)
    assert cert.prediction == 1 and 0.9 * exact <= cert.radius <= exact
    assert cert.p_upper_runner_up is not None


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 0.5}, "alpha"),
        ({"alpha": 0.9}, "alpha"),
        ({"n0": 0}, "n0"),
        ({"n": 0}, "n must"),
        ({"batch_size": 0}, "batch_size"),
        ({"n": 2.5}, "n must"),
    ],
)
def test_bad_parameters_raise_before_any_sampling(kwargs: dict, match: str) -> None:
    counting = CountingModel(LinearTwoClass(torch.ones(16), 0.0))
    smooth = Smooth(counting, GaussianNoise(0.25), 2)
    args = {"n0": 10, "n": 100, "alpha": 0.001, "batch_size": 10} | kwargs
    with pytest.raises(ValueError, match=match):
        smooth.certify(torch.rand(1, 4, 4), **args)
    assert counting.seen == 0


@pytest.mark.parametrize("bad", [1.5, -0.01, float("nan")])
def test_input_outside_unit_interval_is_refused_before_sampling(bad: float) -> None:
    counting = CountingModel(LinearTwoClass(torch.ones(16), 0.0))
    smooth = Smooth(counting, GaussianNoise(0.25), 2)
    x = torch.rand(1, 4, 4)
    x[0, 0, 0] = bad
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        smooth.certify(x, n0=10, n=100, alpha=0.001, batch_size=10)
    with pytest.raises(ValueError, match=r"\[0, 1\]|NaN"):
        smooth.predict(x, n=100, alpha=0.001, batch_size=10)
    assert counting.seen == 0


def test_wrong_input_shape_and_wrong_model_output_are_clear_errors() -> None:
    smooth = Smooth(LinearTwoClass(torch.ones(16), 0.0), GaussianNoise(0.25), 3)
    with pytest.raises(ValueError, match=r"shape \(C, H, W\)"):
        smooth.certify(torch.rand(2, 1, 4, 4), n0=1, n=1, alpha=0.01, batch_size=1)
    with pytest.raises(ValueError, match=r"returned shape \(1, 2\) for a batch of 1, expected \(1, 3\)"):
        smooth.certify(torch.rand(1, 4, 4), n0=1, n=1, alpha=0.01, batch_size=1)
    pooled = Smooth(nn.Sequential(nn.Flatten(0), nn.Linear(64, 3), nn.Unflatten(0, (1, 3))), GaussianNoise(0.25), 3)
    with pytest.raises(ValueError, match=r"returned shape \(1, 3\) for a batch of 4, expected \(4, 3\)"):
        pooled.certify(torch.rand(1, 4, 4), n0=4, n=4, alpha=0.01, batch_size=4)  # one row for the whole batch
    with pytest.raises(TypeError, match="NoiseFamily"):
        Smooth(LinearTwoClass(torch.ones(16), 0.0), "gaussian", 2)  # type: ignore[arg-type]


def test_an_exception_of_the_users_model_propagates_as_it_is() -> None:
    """The network's own error (a shape it cannot take, out of memory) is never turned into a config error: it
    keeps its type, so ``except torch.OutOfMemoryError`` still works, with a note naming the batch."""
    conv = Smooth(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LazyLinear(2)), GaussianNoise(0.25), 2)
    with pytest.raises(RuntimeError) as err:
        conv.certify(torch.rand(3, 4, 4), n0=1, n=1, alpha=0.01, batch_size=1)  # 3 channels into a 1-channel net
    assert not isinstance(err.value, RsmoothError) and "channels" in str(err.value)
    assert any("shape (3, 4, 4)" in note for note in getattr(err.value, "__notes__", ["shape (3, 4, 4)"]))

    class OutOfMemory(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(torch.OutOfMemoryError, match="Tried to allocate"):
        Smooth(OutOfMemory(), GaussianNoise(0.25), 2).certify(torch.rand(1, 4, 4), n0=1, n=1, alpha=0.01, batch_size=1)


def test_model_mode_is_restored_after_sampling() -> None:
    seen: list[bool] = []

    class Probe(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(self.training)
            return x

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2), nn.Dropout(0.5), Probe())
    model.train()
    model[1].eval()  # a frozen part stays frozen: each module gets back its own mode
    Smooth(model, GaussianNoise(0.25), 2).certify(torch.rand(1, 4, 4), n0=2, n=2, alpha=0.01, batch_size=4)
    assert seen and not any(seen)  # every module in eval mode while sampling
    assert [m.training for m in model.modules()] == [True, True, False, True, True]


def test_noise_stays_float32_under_reduced_precision_autocast() -> None:
    """A bf16 forward pass must not turn the noise into bf16 (docs/design.md §1.1)."""
    seen: list[torch.dtype] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.dtype)
            return self.lin(x.flatten(1))

    model = Spy()
    smooth = Smooth(model, GaussianNoise(0.25), 2, autocast_dtype=torch.bfloat16)
    cert = smooth.certify(torch.rand(1, 4, 4), n0=10, n=200, alpha=0.001, batch_size=64)
    assert seen and all(dt == torch.float32 for dt in seen)
    assert cert.n == 200
