"""The smoothed classifier g(x) = argmax_c P(f(x + z) = c) of a base network (docs/design.md §3.1).

``Smooth`` validates inputs once, asks its certificates whether they need exact counts (then
every draw of the family is enumerated, :mod:`rsmooth.smoothing.exact`) or Monte Carlo counts
(:mod:`rsmooth.smoothing.montecarlo`), and hands the same counts to every certificate of the run.
It never looks at what the noise is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from rsmooth.certificates.base import ABSTAIN, Certificate, VoteCounts
from rsmooth.errors import ConfigError
from rsmooth.noise.base import NoiseFamily
from rsmooth.smoothing.cpu import NoiseThreads
from rsmooth.smoothing.exact import exact_votes
from rsmooth.smoothing.montecarlo import monte_carlo_votes
from rsmooth.smoothing.predict import Prediction, predict_exact, predict_votes
from rsmooth.smoothing.sampling import VoteCounter
from rsmooth.smoothing.sequential import SampleSchedule, StoppingRule, check_sequential_certificate, sequential_votes
from rsmooth.smoothing.settings import CertificationSettings, SequentialSettings, resolve_device
from rsmooth.validation import check_alpha, check_count, check_unit_interval


@dataclass(frozen=True)
class CertifyResult:
    """CERTIFY's outcome for one input under the run's default certificate (+ extra radii).

    ``prediction`` is −1 on abstention (``radius`` is then 0). The result holds with probability
    ≥ 1 − ``alpha`` (its *total* failure probability; 0 for exact certificates). ``count`` and
    ``count_runner_up`` are n_A and n_B among ``n`` estimation samples; ``p_lower`` is p̲_A and
    ``p_upper_runner_up`` p̄_B when the certificate computed one. ``extra_radii`` maps each extra
    certificate's name to its radius from the same counts (0 where it certifies nothing).
    """

    prediction: int
    radius: float
    norm: str
    certificate: str
    alpha: float
    p_lower: float | None
    count: int
    count_runner_up: int
    n: int
    p_upper_runner_up: float | None = None
    exact_radius: tuple[int, int] | None = None
    extra_radii: dict[str, float] = field(default_factory=dict)

    @property
    def abstained(self) -> bool:
        return self.prediction == ABSTAIN


class Smooth:
    """Smoothed classifier of ``base`` under ``noise`` with per-example randomness.

    ``base`` maps a batch (B, C, H, W) in [0, 1] to logits (B, num_classes). Input ``id`` under
    ``seed`` always draws the same noise (:mod:`rsmooth.smoothing.sampling`). ``certificate`` (a
    :class:`Certificate` or a name from ``noise.certificates()``; default: the family's) gives the
    prediction and radius; each of ``extra_certificates`` adds a radius from the same counts.
    ``autocast_dtype`` (bf16/fp16) and ``channels_last`` apply to the network's forward pass only.
    ``noise_threads``: helper threads that draw the noise beside the caller on CPU (default: the process's,
    if :func:`~rsmooth.smoothing.cpu.tune_process` installed some; else the caller draws alone). None of
    them changes a count.
    """

    def __init__(
        self,
        base: nn.Module,
        noise: NoiseFamily,
        num_classes: int,
        seed: int = 0,
        certificate: Certificate | str | None = None,
        extra_certificates: Sequence[Certificate | str] = (),
        autocast_dtype: torch.dtype | None = None,
        channels_last: bool = False,
        noise_threads: NoiseThreads | None = None,
    ) -> None:
        if not isinstance(noise, NoiseFamily):
            raise TypeError(f"noise must be a rsmooth.noise.NoiseFamily, got {type(noise).__name__}")
        self.noise = noise
        self.num_classes = check_count("num_classes", num_classes)
        self.seed = check_count("seed", seed, minimum=0)
        self.certificate = certificate if isinstance(certificate, Certificate) else noise.certificate(certificate)
        self.extra_certificates = [
            c if isinstance(c, Certificate) else noise.certificate(c) for c in extra_certificates
        ]
        if not self.certificate.hard:
            raise ConfigError(
                f"{self.certificate.name} is a relaxation, not a certificate: it can only be an "
                f"extra column (extra_certificates), never the radius of the rows"
            )
        names = [c.name for c in self.certificates]
        if len(set(names)) != len(names):
            raise ConfigError(f"each certificate may be requested once, got {names}")
        exact = {c.needs_exact_counts for c in self.certificates}
        if len(exact) > 1:
            raise ConfigError(f"certificates {names} mix exact enumeration and Monte Carlo counts")
        if self.exact and noise.num_draws() is None:
            raise ConfigError(f"{self.certificate.name} needs exact enumeration, which {noise.describe()} cannot do")
        self.counter = VoteCounter(
            base, noise, self.num_classes, self.seed, autocast_dtype, channels_last, noise_threads
        )
        self._prepared: set[int] = set()

    @classmethod
    def from_settings(
        cls,
        model: nn.Module,
        noise: NoiseFamily,
        num_classes: int,
        settings: CertificationSettings,
        device: torch.device | None = None,
    ) -> Smooth:
        """The smoothed classifier ``settings`` describe: ``model`` on ``device`` (default: ``settings.device``),
        their seed, certificates and forward precision, and the speed switches (channels_last memory layout,
        ``torch.compile`` of the network, cuDNN autotuning, which is process-wide)."""
        model = model.to(device or resolve_device(settings.device))
        if settings.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if settings.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True  # cuDNN times the algorithms of each new shape
        if settings.compile:
            model = torch.compile(model)  # type: ignore[assignment]  # compiles on the first batch of each shape
        smooth = cls(
            model,
            noise,
            num_classes,
            seed=settings.seed,
            certificate=settings.certificate,
            extra_certificates=settings.extra_certificates,
            autocast_dtype=settings.autocast_dtype,
            channels_last=settings.channels_last,
        )
        if settings.mode == "sequential":  # refused now, before any results file is touched
            if smooth.exact:
                raise ConfigError(
                    f"certification.mode=sequential: {smooth.certificate.name} enumerates every draw "
                    "exactly; sequential mode is for Monte Carlo families"
                )
            check_sequential_certificate(smooth.certificate)
        return smooth

    @property
    def base(self) -> nn.Module:
        return self.counter.base

    @property
    def certificates(self) -> list[Certificate]:
        return [self.certificate, *self.extra_certificates]

    @property
    def exact(self) -> bool:
        """True when the certificates need the exact votes over every draw (no sampling, no α)."""
        return self.certificate.needs_exact_counts

    def prepare(self, dim: int) -> float:
        """Build every certificate's tables for inputs of dimension ``dim``, once; returns the seconds spent.

        Call it before timing per-input work: :meth:`certify_many` calls it too, but then its cost
        lands in the first call.
        """
        if dim in self._prepared:
            return 0.0
        start = time.perf_counter()
        for cert in self.certificates:
            cert.prepare(dim)
        self._prepared.add(dim)
        return time.perf_counter() - start

    # ------------------------------------------------------------------ validation (once, before sampling)
    @staticmethod
    def _as_tensor(xs: torch.Tensor, ndim: int) -> torch.Tensor:
        if isinstance(xs, np.ndarray):
            xs = torch.from_numpy(xs)
        if ndim == 4 and isinstance(xs, (list, tuple)) and xs:  # certify_many of a list of (C, H, W) inputs
            parts = [Smooth._as_tensor(x, 3) for x in xs]
            if len({tuple(p.shape) for p in parts}) > 1:
                raise ConfigError(
                    f"inputs in a list must share one shape, got {sorted({tuple(p.shape) for p in parts})}"
                )
            xs = torch.stack(parts)
        if not isinstance(xs, torch.Tensor):
            raise ConfigError(
                f"input must be a torch.Tensor, a numpy array (or, for certify_many, a list of them), "
                f"got {type(xs).__name__}"
            )
        if xs.ndim != ndim:
            shape = "(m, C, H, W)" if ndim == 4 else "(C, H, W)"
            raise ConfigError(f"input must have shape {shape}, got {tuple(xs.shape)}")
        return xs

    def _validate(self, xs: torch.Tensor, ndim: int) -> torch.Tensor:
        xs = self._as_tensor(xs, ndim)
        check_unit_interval(xs)
        self.noise.check_input(xs)
        return xs

    @staticmethod
    def _ids(ids: Sequence[int] | None, m: int) -> list[int]:
        if ids is None:
            return list(range(m))
        out = [check_count("id", i, minimum=0) for i in ids]
        if len(out) != m:
            raise ConfigError(f"ids has {len(out)} entries for {m} inputs")
        if len(set(out)) != len(out):
            twice = next(i for i in out if out.count(i) > 1)
            raise ConfigError(
                f"id {twice} is given to two inputs; an id seeds an input's noise, and no two inputs may share "
                "samples: give each input its own id"
            )
        return out

    # ------------------------------------------------------------------ CERTIFY
    def certify(
        self,
        x: torch.Tensor,
        n0: int,
        n: int,
        alpha: float,
        batch_size: int,
        id: int = 0,
        mode: str = "fixed",
        radii: Sequence[float] | None = None,
        schedule: SampleSchedule | None = None,
    ) -> CertifyResult:
        """CERTIFY one input x (C, H, W) with example id ``id`` (Cohen et al., Algorithm CERTIFY).

        With probability ≥ 1 − ``result.alpha`` over the sampling, if the result is not an
        abstention then g(x + δ) = ``prediction`` for every δ with ‖δ‖_norm < ``radius``.
        ``mode="sequential"``: n is the budget n_max, spent in stages (``schedule``, default
        geometric from 1024 by 2) and stopped early (:mod:`rsmooth.smoothing.sequential`; ``radii`` are
        the radii that matter); same guarantee, ``result.n`` the estimation samples used.
        """
        x = self._as_tensor(x, ndim=3)  # certify_many validates the values, once
        return self.certify_many(
            x.unsqueeze(0), n0, n, alpha, batch_size, ids=[id], mode=mode, radii=radii, schedule=schedule
        )[0]

    def certify_many(
        self,
        xs: torch.Tensor,
        n0: int,
        n: int,
        alpha: float,
        batch_size: int,
        ids: Sequence[int] | None = None,
        progress: bool = False,
        mode: str = "fixed",
        radii: Sequence[float] | None = None,
        schedule: SampleSchedule | None = None,
    ) -> list[CertifyResult]:
        """CERTIFY each of the m inputs xs (m, C, H, W); ``ids`` (default 0 … m−1) seed their noise.

        Inputs share forward batches; each gets its own n0 selection and n fresh estimation samples,
        so each result holds at its own failure probability. With exact certificates (DSSN) every draw
        is evaluated once per input and n0, n and alpha are not used. ``mode``, ``radii``,
        ``schedule``: see :meth:`certify`. The arguments become one :class:`CertificationSettings`
        (checked there, once); :meth:`certify_with` takes such settings directly.
        """
        if self.exact:  # n0, n and alpha are not used: only the batching is checked
            settings = CertificationSettings(batch_size=batch_size, mode=mode, where="")
        else:
            sequential = SequentialSettings(radii=None if radii is None else list(radii), where="sequential")
            settings = CertificationSettings(
                n0=n0, n=n, alpha=alpha, batch_size=batch_size, mode=mode, sequential=sequential, where=""
            )
        return self.certify_with(xs, settings, ids, progress=progress, schedule=schedule)

    def certify_with(
        self,
        xs: torch.Tensor,
        settings: CertificationSettings,
        ids: Sequence[int] | None = None,
        progress: bool = False,
        schedule: SampleSchedule | None = None,
    ) -> list[CertifyResult]:
        """:meth:`certify_many` under ``settings`` (n0, n, alpha, batch_size, mode, sequential), which were
        checked when they were built; only the inputs and ids are checked here. ``progress`` shows a bar
        over the forward batches; ``schedule`` replaces the settings' sequential schedule. No input (an empty
        list or batch) gives no result."""
        if isinstance(xs, (list, tuple)) and not xs:
            self._ids(ids, 0)
            return []
        xs = self._validate(xs, ndim=4)
        ids = self._ids(ids, xs.shape[0])
        if xs.shape[0] == 0:
            return []
        dim = int(xs[0].numel())
        batch_size = settings.batch_size
        if self.exact:
            if settings.mode != "fixed":
                raise ConfigError(
                    f"{self.certificate.name} enumerates every draw exactly; sequential mode is for "
                    "Monte Carlo families"
                )
            self.prepare(dim)
            votes = exact_votes(self.counter, xs, batch_size, progress, ids)
            return [self._result(v, 0.0, 0.0, dim) for v in votes]
        alpha = settings.alpha
        if settings.mode == "fixed":
            self.prepare(dim)
            votes = monte_carlo_votes(self.counter, xs, ids, settings.n0, settings.n, batch_size, progress)
            return [self._result(v, alpha, alpha, dim) for v in votes]
        schedule = schedule or settings.schedule
        assert schedule is not None  # sequential settings always build one
        if schedule.n_max != settings.n:
            raise ConfigError(f"the sample schedule ends at {schedule.n_max}, not at the budget n={settings.n}")
        levels = schedule.stage_alphas(alpha)
        sequential = settings.sequential
        rule = StoppingRule(self.certificate, schedule, alpha, dim, sequential.radii, sequential.radius_tolerance)
        self.prepare(dim)
        stopped = sequential_votes(self.counter, xs, ids, settings.n0, schedule, batch_size, rule, progress)
        # stage k's bounds are at α_k, Σα_k = α: the union bound over the K stages gives α in total
        return [self._result(v, levels[k], alpha, dim) for v, k in stopped]

    def _result(self, votes: VoteCounts, level: float, alpha: float, dim: int) -> CertifyResult:
        """The certificates of ``votes`` with confidence bounds at ``level``; ``alpha`` is the run's
        total (they differ in sequential mode, where stage k's bounds are at α_k)."""
        main = self.certificate.certify(votes, level, dim)
        extra = {}
        for cert in self.extra_certificates:
            other = cert.certify(votes, level, dim)
            # the row's prediction is the default certificate's; an extra one only adds a radius
            extra[cert.name] = 0.0 if main.abstained or other.prediction != main.prediction else other.radius
        return CertifyResult(
            prediction=main.prediction,
            radius=main.radius if not main.abstained else 0.0,
            norm=self.certificate.norm,
            certificate=self.certificate.name,
            alpha=self.certificate.failure_probability(alpha),
            p_lower=main.p_lower,
            count=votes.n_a,  # the prediction, when there is one, is always ĉ_A
            count_runner_up=votes.n_b,
            n=votes.n,
            p_upper_runner_up=main.p_upper_runner_up,
            exact_radius=main.exact_radius,
            extra_radii=extra,
        )

    # ------------------------------------------------------------------ PREDICT
    def predict(self, x: torch.Tensor, n: int, alpha: float, batch_size: int, id: int = 0) -> Prediction:
        """PREDICT: with probability ≥ 1 − α the returned class (if not −1) is g(x); exact for DSSN."""
        x = self._validate(x, ndim=3)
        batch_size = check_count("batch_size", batch_size)
        if self.exact:
            return predict_exact(self.counter, x, batch_size)
        alpha = check_alpha(alpha)
        n = check_count("n", n)
        return predict_votes(self.counter, x, check_count("id", id, minimum=0), n, alpha, batch_size)
