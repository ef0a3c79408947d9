"""The contract every smoothing family fulfils.

A family is a distribution over noisy copies of an input. The sampling engine
(`rsmooth.certify.Smooth`) only ever calls the members below, so adding a family
means one new module, one YAML file in `conf/noise/` and one test:

* ``perturb(x, generator)``: a noisy copy of a batch ``x`` of shape (B, C, H, W),
  float32, on ``x``'s device, drawn from ``generator`` only;
* ``perturb_into(x, out, generator)``: the same draw written into a float32 buffer ``out``
  (the sampling engine reuses one buffer across batches; additive families draw in place);
* ``perturb_blocks_into(xs, out, sizes, generators)``: several such draws, each from its own generator,
  into consecutive rows of one buffer, with the same values as one at a time (a family may share its
  arithmetic across them);
* ``default_certificate()`` / ``certificates()``: the certificates
  (:mod:`rsmooth.certificates.base`) that turn vote counts into radii for this
  distribution, the default first;
* ``num_draws()`` / ``perturb_draws(x, draws)``: for families with finitely many
  equally likely draws (DSSN), which a certificate may ask the engine to enumerate.

``radius(p_lower, dim)`` is a shortcut to the default certificate's formula.
This module imports torch only: it is part of the pure core.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import torch

from rsmooth.errors import CheckpointError, ConfigError
from rsmooth.noise.blocks import input_runs

if TYPE_CHECKING:
    from rsmooth.certificates.base import Certificate

Norm = Literal["l1", "l2", "linf"]
NORMS: tuple[str, ...] = ("l1", "l2", "linf")


class NoiseFamily(ABC):
    """Base class of every smoothing distribution.

    Subclasses validate their parameters in ``__init__`` (a bad σ is a
    ``ValueError`` naming the parameter, raised before any sampling) and
    implement :meth:`perturb` and :meth:`default_certificate`.
    """

    @abstractmethod
    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return a noisy copy of the batch ``x`` (B, C, H, W): float32, on ``x.device``.

        ``generator`` (optional) makes the draw reproducible; it must live on
        ``x.device``.
        """

    def perturb_into(self, x: torch.Tensor, out: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Write ``len(out)`` noisy copies of one input ``x`` (C, H, W) into ``out`` (m, C, H, W), float32.

        The values are exactly those of ``perturb(x.expand(m, C, H, W), generator)``. This default
        allocates that result and copies it; :class:`AdditiveNoise` draws straight into ``out``.
        """
        out.copy_(self.perturb(x.expand(out.shape), generator))

    def perturb_blocks_into(
        self,
        xs: Sequence[torch.Tensor],
        out: torch.Tensor,
        sizes: Sequence[int],
        generators: Sequence[torch.Generator | None],
    ) -> None:
        """``perturb_into(xs[b], rows_b, generators[b])`` for every block b, with exactly those values, where
        rows_b are the ``sizes[b]`` rows of ``out`` (Σ sizes, C, H, W) after the blocks before it.

        The sampling engine hands over the blocks it draws together; a family whose sampler runs many
        small ops per block overrides this to run them once for all blocks (:class:`AdditiveNoise`,
        :class:`SplittingNoise`).
        """
        for x, rows, generator in zip(xs, torch.split(out, list(sizes)), generators, strict=True):
            self.perturb_into(x, rows, generator)

    @abstractmethod
    def default_certificate(self) -> Certificate:
        """The certificate this family's radii come from unless a run asks for another."""

    def certificates(self) -> list[Certificate]:
        """Every certificate that holds for this distribution, the default first."""
        return [self.default_certificate()]

    def certificate(self, name: str | None = None) -> Certificate:
        """The certificate called ``name`` (None: the default); a clear error lists the others."""
        if name is None:
            return self.default_certificate()
        available = self.certificates()
        for cert in available:
            if cert.name == name:
                return cert
        names = ", ".join(c.name for c in available)
        raise ConfigError(f"certificate {name!r} does not apply to {self.describe()}; available: {names}")

    @property
    def norm(self) -> str:
        """The threat norm of the default certificate."""
        return self.default_certificate().norm

    def radius(self, p_lower: float, dim: int, p_upper_runner_up: float | None = None) -> float:
        """Shortcut to the default certificate's formula: the radius for a lower bound ``p_lower`` on
        P(f(x + z) = c_A) and an upper bound on the runner-up (default ``1 - p_lower``); 0.0 when
        nothing is certified. ``dim`` is the input dimension C·H·W."""
        cert = self.default_certificate()
        formula = getattr(cert, "radius", None)
        if formula is None:
            raise TypeError(f"{cert!r} has no closed-form radius(p_lower); it certifies from exact counts")
        return float(formula(p_lower, dim, p_upper_runner_up))

    def num_draws(self) -> int | None:
        """L for a family with finitely many equally likely draws j = 0 … L−1, else None."""
        return None

    def perturb_draws(self, x: torch.Tensor, draws: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Noisy copies of x (B, C, H, W) for the draw indices ``draws`` (B,); only when :meth:`num_draws` is set."""
        raise TypeError(f"{type(self).__name__} has no finite set of draws to enumerate")

    def perturb_draws_of(self, xs: torch.Tensor, owner: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
        """``perturb_draws(xs[owner], draws, check=False)``, the same values: copy s of input ``owner[s]``
        (the engine's filled batches; a family may precompute what depends on the input only)."""
        return self.perturb_draws(xs[owner], draws, check=False)

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

    #: revision of the sampler's random stream: raised when a change draws other values from the same
    #: seeds, so a result file written by the older sampler is never resumed into (recorded in result
    #: files when above 1)
    stream_revision: int = 1

    #: True when a model is tied to the exact distribution it was trained with (DSSN's
    #: offset vector): certifying with different parameters is refused.
    must_match_training: bool = False

    def check_input(self, x: torch.Tensor) -> None:  # noqa: B027 - optional: most families take any image
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
            raise CheckpointError(f"{type(self).__name__} keeps no state, but the checkpoint holds {sorted(state)}")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoiseFamily) and type(self) is type(other) and self._params() == other._params()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self._params().items()))))


def check_positive(name: str, value: float) -> float:
    """Return ``float(value)`` or raise a ``ValueError`` naming ``name`` if it is not a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a positive number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_norm(norm: str, allowed: tuple[str, ...]) -> Norm:
    """Validate a threat-norm name against the ones a family supports."""
    if norm not in allowed:
        raise ConfigError(f"norm must be one of {allowed}, got {norm!r}")
    return cast(Norm, norm)  # one of the literal names, checked above


class AdditiveNoise(NoiseFamily):
    """A family whose noisy copy is x + z with z ∼ π0 drawn independently of x, in float32.

    Subclasses implement :meth:`noise_blocks_into`, which draws several independently seeded blocks at once
    (:mod:`rsmooth.noise.blocks`): each random draw still comes from its block's generator, in that block's
    order, so block b's z is bit for bit what :meth:`sample_noise` gives with ``generators[b]`` alone.
    ``perturb``, ``perturb_into`` and ``perturb_blocks_into`` give the same bits: x + z and z + x round alike.
    """

    @abstractmethod
    def noise_blocks_into(
        self, out: torch.Tensor, sizes: Sequence[int], generators: Sequence[torch.Generator | None]
    ) -> None:
        """z for ``sizes[b]`` copies from ``generators[b]``, every block b, written into ``out`` (Σ sizes, *shape)
        float32 (the engine's buffer: a family draws there and works in place, with no temporary of its size)."""

    def sample_noise_blocks(
        self,
        sizes: Sequence[int],
        shape: tuple[int, ...],
        generators: Sequence[torch.Generator | None],
        device: torch.device,
    ) -> torch.Tensor:
        """:meth:`noise_blocks_into` a new tensor (Σ sizes, *shape)."""
        out = torch.empty((sum(sizes), *shape), dtype=torch.float32, device=device)
        self.noise_blocks_into(out, sizes, generators)
        return out

    def sample_noise(
        self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """z of shape (B, C, H, W), float32, on ``device``, drawn from ``generator`` only."""
        return self.sample_noise_blocks([shape[0]], tuple(shape[1:]), [generator], device)

    def noise_into(self, out: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Write z (same law and bits as :meth:`sample_noise` of ``out.shape``) into ``out``."""
        self.noise_blocks_into(out, [out.shape[0]], [generator])

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = x.float()  # noise is drawn and added in float32 whatever the model runs in
        return x + self.sample_noise(x.shape, generator, x.device)

    def perturb_into(self, x: torch.Tensor, out: torch.Tensor, generator: torch.Generator | None = None) -> None:
        self.noise_into(out, generator)
        out.add_(x)

    def perturb_blocks_into(
        self,
        xs: Sequence[torch.Tensor],
        out: torch.Tensor,
        sizes: Sequence[int],
        generators: Sequence[torch.Generator | None],
    ) -> None:
        self.noise_blocks_into(out, sizes, generators)
        for x, row, rows in input_runs(xs, sizes):
            out[row : row + rows].add_(x)  # z + x in float32, as perturb_into; once per run of x's blocks


class EnumerableNoise(NoiseFamily):
    """A family with finitely many equally likely draws j = 0 … L−1, so that the smoothed
    classifier can be computed *exactly* from L base-classifier votes (DSSN, Levine & Feizi 2021).

    Subclasses implement :meth:`num_draws` and :meth:`perturb_draws` (``check=False`` skips
    :meth:`check_input`: the engine validates each input once, not once per batch); training
    draws one j uniformly per example.
    """

    @abstractmethod
    def num_draws(self) -> int:
        """L, the number of equally likely draws."""

    @abstractmethod
    def perturb_draws(self, x: torch.Tensor, draws: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Noisy copies of x (B, C, H, W) for the draw indices ``draws`` (B,) in [0, L)."""

    def perturb(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One uniformly random draw per example (training).

        The first batch of each input shape is checked with :meth:`check_input` (a misconfigured
        pipeline fails at once, with a clear message); later batches are not, because the check
        reads a value back to the host every step. A later off-grid value cannot leak an off-grid
        draw: the transform itself rounds x·q to the grid. Certification checks every input.
        """
        checked: set[tuple[int, ...]] = self.__dict__.setdefault("_checked_shapes", set())
        shape = tuple(x.shape[1:])
        draws = torch.randint(0, self.num_draws(), (x.shape[0],), generator=generator, device=x.device)
        out = self.perturb_draws(x, draws, check=shape not in checked)
        checked.add(shape)
        return out
