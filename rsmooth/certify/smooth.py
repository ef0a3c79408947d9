"""The sampling engine: Monte Carlo CERTIFY and PREDICT (Cohen et al. 2019, Appendix C).

The engine is generic over noise families: it asks a family for noisy copies
(`perturb`), counts the base classifier's votes on the device, and asks the
family to turn the confidence bound into a radius (`radius`). It never looks
at what the noise is.

Several inputs can share one forward batch (`certify_many`): with small n (the
validation callback) that keeps the device busy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from rsmooth.certify.stats import (
    binomial_test_pvalue,
    check_alpha,
    clopper_pearson_lower,
    clopper_pearson_upper,
)
from rsmooth.noise.base import EnumerableNoise, NoiseFamily

ABSTAIN = -1


@dataclass(frozen=True)
class Certificate:
    """Outcome of CERTIFY for one input.

    ``prediction`` is −1 when the smoothed classifier abstains (``radius`` is
    then 0). The certificate holds with probability ≥ 1 − ``alpha``. ``p_lower`` is the (1 − α) lower bound on the top-class probability,
    ``count`` the votes for the selected class among ``n`` estimation samples.
    """

    prediction: int
    radius: float
    p_lower: float
    count: int
    n: int
    norm: str
    p_upper_runner_up: float | None = None
    #: failure probability of this certificate (0.0: exact, e.g. DSSN)
    alpha: float = 0.0

    @property
    def abstained(self) -> bool:
        return self.prediction == ABSTAIN


@dataclass(frozen=True)
class Prediction:
    """Outcome of PREDICT: the class (−1 = abstain) and the binomial-test p-value."""

    prediction: int
    p_value: float
    counts: tuple[int, ...]


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def check_unit_interval(x: torch.Tensor) -> None:
    """Raise ``ValueError`` unless every entry of ``x`` is finite and in [0, 1] (pixel space, SPEC §1.2)."""
    if not torch.is_floating_point(x):
        raise ValueError(f"input must be a floating-point image in [0, 1], got dtype {x.dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("input contains NaN or inf; expected an image in [0, 1]")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"input must lie in [0, 1] (pixel space; normalization is the model's first layer), "
            f"got values in [{lo:.4g}, {hi:.4g}]"
        )


class Smooth:
    """The smoothed classifier g(x) = argmax_c P(f(x + z) = c) of a base network.

    ``base`` maps a batch (B, C, H, W) in [0, 1] to logits (B, num_classes); it
    is run in eval mode under ``torch.inference_mode``. Votes are counted with
    ``torch.bincount`` on the base's device; one host transfer per call.
    """

    def __init__(
        self,
        base: nn.Module,
        noise: NoiseFamily,
        num_classes: int,
        generator: torch.Generator | None = None,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(noise, NoiseFamily):
            raise TypeError(f"noise must be a rsmooth.noise.NoiseFamily, got {type(noise).__name__}")
        self.base = base
        self.noise = noise
        self.num_classes = _check_count("num_classes", num_classes)
        self.generator = generator
        # Optional reduced-precision forward; the noise itself stays float32.
        self.autocast_dtype = autocast_dtype

    # ------------------------------------------------------------------ sampling
    def _device(self) -> torch.device:
        for p in self.base.parameters():
            return p.device
        for b in self.base.buffers():
            return b.device
        return torch.device("cpu")

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager[None]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)

    @staticmethod
    def _chunks(total: int, batch_size: int) -> Iterator[tuple[int, int]]:
        for start in range(0, total, batch_size):
            yield start, min(start + batch_size, total)

    def sample_counts(
        self, xs: torch.Tensor, num: int, batch_size: int, progress: bool = False, enumerate_draws: bool = False
    ) -> torch.Tensor:
        """Votes of the base classifier on ``num`` noisy copies of each input.

        xs: (m, C, H, W). Returns an int64 tensor (m, num_classes) on the base's
        device. The m·num samples are laid out input-major and cut into batches
        of ``batch_size``, so one batch may hold copies of several inputs.
        With ``enumerate_draws`` (an :class:`EnumerableNoise`, num = L) copy r of
        each input is draw j = r: every draw exactly once, no randomness.
        """
        if enumerate_draws and not isinstance(self.noise, EnumerableNoise):
            raise TypeError(f"{type(self.noise).__name__} has no finite set of draws to enumerate")
        device = self._device()
        xs = xs.to(device=device, dtype=torch.float32)
        m, k = xs.shape[0], self.num_classes
        counts = torch.zeros(m * k, dtype=torch.int64, device=device)
        chunks = self._chunks(m * num, batch_size)
        if progress:
            from tqdm.auto import tqdm

            chunks = tqdm(list(chunks), desc="sampling", leave=False)
        was_training = self.base.training
        self.base.eval()
        try:
            with torch.inference_mode():
                for start, stop in chunks:
                    flat = torch.arange(start, stop, device=device)
                    owner = flat // num  # (b,) input index of each sample
                    # Noise outside autocast: always drawn and added in float32. Inputs were
                    # validated once by the caller, so the family skips its per-batch checks.
                    if enumerate_draws:
                        noisy = self.noise.perturb_draws(xs[owner], flat % num, check=False)  # type: ignore[attr-defined]
                    else:
                        noisy = self.noise.perturb(xs[owner], generator=self.generator)
                    with self._autocast(device):
                        logits = self.base(noisy)
                    if logits.ndim != 2 or logits.shape[1] != k:
                        raise ValueError(
                            f"base classifier returned shape {tuple(logits.shape)}, expected (batch, {k})"
                        )
                    votes = logits.argmax(dim=1)
                    counts += torch.bincount(owner * k + votes, minlength=m * k)
        finally:
            self.base.train(was_training)
        return counts.view(m, k)

    # ------------------------------------------------------------------ CERTIFY
    def _validate(self, x: torch.Tensor, batched: bool, **counts: int) -> None:
        for name, value in counts.items():
            _check_count(name, value)
        expected = 4 if batched else 3
        if x.ndim != expected:
            shape = "(m, C, H, W)" if batched else "(C, H, W)"
            raise ValueError(f"input must have shape {shape}, got {tuple(x.shape)}")
        check_unit_interval(x)
        self.noise.check_input(x)

    def certify(
        self,
        x: torch.Tensor,
        n0: int,
        n: int,
        alpha: float,
        batch_size: int,
        bilateral: bool = False,
    ) -> Certificate:
        """CERTIFY for one input x of shape (C, H, W) (Cohen et al., Algorithm "CERTIFY").

        With probability ≥ 1 − α over the sampling, if the result is not an
        abstention then g(x + δ) = ``prediction`` for every δ with
        ‖δ‖_{norm} < ``radius``.
        """
        if x.ndim != 3:
            raise ValueError(f"input must have shape (C, H, W), got {tuple(x.shape)}")
        # certify_many validates counts and values once (before any sampling).
        return self.certify_many(x.unsqueeze(0), n0, n, alpha, batch_size, bilateral=bilateral)[0]

    def certify_many(
        self,
        xs: torch.Tensor,
        n0: int,
        n: int,
        alpha: float,
        batch_size: int,
        bilateral: bool = False,
        progress: bool = False,
    ) -> list[Certificate]:
        """CERTIFY for each of the m inputs xs (m, C, H, W), sharing forward batches.

        Each input gets its own n0 selection samples and its own n *fresh*
        estimation samples; the guarantee holds per input at level α.
        ``bilateral`` splits α by Bonferroni between a lower bound on p_A and
        an upper bound on the runner-up p_B (SPEC §3.1).

        For an :class:`EnumerableNoise` (DSSN) the smoothed classifier is computed
        exactly from all L draws: n0, n, alpha and bilateral are ignored and the
        certificate holds with certainty.
        """
        if isinstance(self.noise, EnumerableNoise):
            return self._certify_exact(xs, batch_size, progress)
        alpha = check_alpha(alpha)
        self._validate(xs, batched=True, n0=n0, n=n, batch_size=batch_size)
        dim = int(xs[0].numel())
        # Selection: the guess ĉ_A comes from the first n0 draws only ...
        selection = self.sample_counts(xs, n0, batch_size, progress).cpu()
        guesses = selection.argmax(dim=1)
        # ... and the estimate from n fresh draws, never the selection ones.
        estimation = self.sample_counts(xs, n, batch_size, progress).cpu()
        results = []
        for i in range(xs.shape[0]):
            c_a = int(guesses[i])
            n_a = int(estimation[i, c_a])
            results.append(self._certificate(c_a, n_a, estimation[i], n, alpha, dim, bilateral))
        return results

    def _certify_exact(self, xs: torch.Tensor, batch_size: int, progress: bool) -> list[Certificate]:
        """Exact certificates from the L votes of every draw (exactly L base evaluations per input)."""
        self._validate(xs, batched=True, batch_size=batch_size)
        noise: EnumerableNoise = self.noise  # type: ignore[assignment]
        L = noise.num_draws()
        counts = self.sample_counts(xs, L, batch_size, progress, enumerate_draws=True).cpu().tolist()
        results = []
        for row in counts:
            prediction, radius = noise.exact_certificate(row)
            results.append(Certificate(prediction, radius, row[prediction] / L, row[prediction], L, noise.norm, alpha=0.0))
        return results

    def _certificate(
        self,
        c_a: int,
        n_a: int,
        counts: torch.Tensor,
        n: int,
        alpha: float,
        dim: int,
        bilateral: bool,
    ) -> Certificate:
        norm = self.noise.norm
        if not bilateral:
            p_lower = clopper_pearson_lower(n_a, n, alpha)
            if p_lower <= 0.5:
                return Certificate(ABSTAIN, 0.0, p_lower, n_a, n, norm, alpha=alpha)
            return Certificate(c_a, self.noise.radius(p_lower, dim), p_lower, n_a, n, norm, alpha=alpha)
        # Bonferroni: α/2 for p̲_A, α/2 for p̄_B of the most frequent other class.
        others = counts.clone()
        others[c_a] = -1
        n_b = int(others.max()) if self.num_classes > 1 else 0
        p_lower = clopper_pearson_lower(n_a, n, alpha / 2)
        p_upper_b = clopper_pearson_upper(max(n_b, 0), n, alpha / 2)
        radius = self.noise.radius_bilateral(p_lower, p_upper_b, dim)
        if radius <= 0.0:
            return Certificate(ABSTAIN, 0.0, p_lower, n_a, n, norm, p_upper_b, alpha)
        return Certificate(c_a, radius, p_lower, n_a, n, norm, p_upper_b, alpha)

    # ------------------------------------------------------------------ PREDICT
    def predict(self, x: torch.Tensor, n: int, alpha: float, batch_size: int) -> Prediction:
        """PREDICT (Cohen et al.): the top class if the two-sided binomial test of
        n_A ~ Bin(n_A + n_B, 1/2) rejects at level α, else abstain (−1).

        With probability ≥ 1 − α the returned class (if any) is g(x).
        """
        if isinstance(self.noise, EnumerableNoise):
            # Exact: g(x) is the top class of the L votes, with no failure probability.
            self._validate(x, batched=False, batch_size=batch_size)
            counts = self.sample_counts(x.unsqueeze(0), self.noise.num_draws(), batch_size, enumerate_draws=True)
            votes = [int(c) for c in counts[0].cpu()]
            return Prediction(self.noise.exact_certificate(votes)[0], 0.0, tuple(votes))
        alpha = check_alpha(alpha)
        self._validate(x, batched=False, n=n, batch_size=batch_size)
        counts = self.sample_counts(x.unsqueeze(0), n, batch_size)[0].cpu()
        top2 = torch.topk(counts, k=min(2, self.num_classes))
        n_a = int(top2.values[0])
        n_b = int(top2.values[1]) if self.num_classes > 1 else 0
        p_value = binomial_test_pvalue(n_a, n_b)
        prediction = int(top2.indices[0]) if p_value <= alpha else ABSTAIN
        return Prediction(prediction, p_value, tuple(int(c) for c in counts))

