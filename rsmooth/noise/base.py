"""The contract every smoothing family fulfils.

A family is a distribution over noisy copies of an input. The sampling engine
(`rsmooth.certify.Smooth`) only ever calls the three members below, so adding a
family means one new subclass and one YAML file in `conf/noise/`:

* ``perturb(x)``: a noisy copy of a batch ``x`` of shape (B, C, H, W), float32,
  on ``x``'s device;
* ``radius(p_lower, dim)``: the certified radius, in the family's ``norm``, for a
  lower confidence bound ``p_lower`` on the top class probability (0 when
  nothing is certified, i.e. ``p_lower <= 1/2``);
* ``norm``: ``'l1'``, ``'l2'`` or ``'linf'``.

This module imports torch only: it is part of the pure core.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Literal

import torch

Norm = Literal["l1", "l2", "linf"]
NORMS: tuple[str, ...] = ("l1", "l2", "linf")


class NoiseFamily(ABC):
    """Base class of every smoothing distribution.

    Subclasses validate their parameters in ``__init__`` (a bad σ is a
    ``ValueError`` naming the parameter, raised before any sampling) and
    implement :meth:`perturb` and :meth:`radius`.
    """

    #: the threat norm of :meth:`radius`
    norm: Norm

    @abstractmethod
    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return a noisy copy of the batch ``x`` (B, C, H, W): float32, on ``x.device``.

        ``generator`` (optional) makes the draw reproducible; it must live on
        ``x.device``.
        """

    @abstractmethod
    def radius(self, p_lower: float, dim: int) -> float:
        """Certified radius in :attr:`norm` given ``p_lower``, a lower bound on
        P(f(x + z) = c_A), with the runner-up bounded by ``1 - p_lower``.

        Returns 0.0 when ``p_lower <= 1/2`` (nothing is certified).
        ``dim`` is the input dimension C·H·W (used by families whose
        certificate depends on it).
        """

    def radius_bilateral(self, p_lower: float, p_upper_runner_up: float, dim: int) -> float:
        """Radius from separate bounds p̲_A and p̄_B (Cohen et al., Theorem 1 general form).

        The default ignores ``p_upper_runner_up``: p_B ≤ 1 − p_A always holds,
        so :meth:`radius` is a valid (if looser) certificate. Families whose
        certificate is tighter with an explicit p̄_B override this.
        """
        return self.radius(p_lower, dim)

    def config(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this family, plus its ``_target_``.

        Stored in checkpoints and results so that a certificate always names
        the exact distribution it holds for.
        """
        cls = type(self)
        return {"_target_": f"{cls.__module__}.{cls.__qualname__}", **self._params()}

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor arguments of this instance (JSON-serialisable)."""

    def describe(self) -> str:
        """Short one-line description, e.g. ``gaussian(sigma=0.25)``, for TSV rows."""
        params = ",".join(f"{k}={v}" for k, v in self._params().items())
        return f"{self.name}({params})"

    #: short name used in result rows
    name: str = "noise"

    #: True when a model is tied to the exact distribution it was trained with (DSSN's
    #: offset vector): certifying with different parameters is refused.
    must_match_training: bool = False

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` if ``x`` is not a valid input for this family.

        Every family needs pixel values in [0, 1] (checked by the engine); a
        family with further needs (DSSN: values on the q-grid) overrides this.
        """

    def state(self) -> dict[str, Any]:
        """What a checkpoint must store beyond :meth:`config` to rebuild this exact distribution."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state` from a checkpoint; refuse one that does not fit this instance."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, but the checkpoint holds {sorted(state)}")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._params() == other._params()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self._params().items()))))


def check_positive(name: str, value: float) -> float:
    """Return ``float(value)`` or raise a ``ValueError`` naming ``name`` if it is not a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_norm(norm: str, allowed: tuple[str, ...]) -> Norm:
    """Validate a threat-norm name against the ones a family supports."""
    if norm not in allowed:
        raise ValueError(f"norm must be one of {allowed}, got {norm!r}")
    return norm  # type: ignore[return-value]


class EnumerableNoise(NoiseFamily):
    """A family with finitely many equally likely draws j = 0 … L−1, so that the smoothed
    classifier is computed *exactly* from L base-classifier votes (DSSN, Levine & Feizi 2021).

    The engine enumerates every draw instead of sampling, and asks
    :meth:`exact_certificate` for the prediction and radius from the vote counts.
    """

    @abstractmethod
    def num_draws(self) -> int:
        """L, the number of equally likely draws."""

    @abstractmethod
    def perturb_draws(self, x: torch.Tensor, draws: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Noisy copies of x (B, C, H, W) for the draw indices ``draws`` (B,) in [0, L).

        ``check=False`` skips :meth:`check_input` (the engine validates each input once,
        not once per batch).
        """

    @abstractmethod
    def exact_certificate(self, counts: list[int]) -> tuple[int, float]:
        """(prediction, radius) from the exact vote counts over all L draws (sum = L)."""

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One uniformly random draw per example (training)."""
        draws = torch.randint(0, self.num_draws(), (x.shape[0],), generator=generator, device=x.device)
        return self.perturb_draws(x, draws)
