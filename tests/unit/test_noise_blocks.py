"""Blocks drawn together (``perturb_blocks_into``) are bit for bit the blocks drawn one at a time.

The sampling engine hands a family several independently seeded blocks at once; a certificate must not
depend on which blocks share a call (docs/design.md §3.1), so every batched sampler is checked here against the
definition — each block alone, from its own generator — at sizes that exercise the kernels' vector
tails (1, 7, 100, 255, 256), in the digits and CIFAR dimensions and one tiny one.
"""

from __future__ import annotations

import pytest
import torch

import rsmooth.noise.gamma as gamma_module
import rsmooth.noise.splitting as splitting_module
from rsmooth.noise import (
    ExponentialLinfNoise,
    GaussianNoise,
    LinfPowerNoise,
    MixedLinfNoise,
    NoiseFamily,
    PowerL2Noise,
    SplittingNoise,
    UniformL1Noise,
)
from rsmooth.noise.blocks import block_runs, input_runs
from rsmooth.noise.gamma import sample_gamma, sample_gamma_blocks
from rsmooth.noise.mixed_linf import NormEnvelope

CPU = torch.device("cpu")
SIZES = [256, 7, 1, 100, 256, 255]

FAMILIES: list[tuple[NoiseFamily, tuple[int, ...]]] = [
    (ExponentialLinfNoise(0.25), (1, 8, 8)),
    (ExponentialLinfNoise(0.5), (3, 8, 8)),
    (PowerL2Noise(0.25, 10), (1, 8, 8)),
    (PowerL2Noise(0.5, 0), (3, 32, 32)),
    (PowerL2Noise(0.3, 1.5), (1, 1, 2)),  # Gamma shape 0.25 < 1: the boosted sampler and its pow
    (LinfPowerNoise(0.3, 2), (1, 8, 8)),
    (LinfPowerNoise(0.3, 0.5), (1, 1, 2)),  # Gamma shape 0.75
    (MixedLinfNoise(0.25, 5), (1, 8, 8)),
    (MixedLinfNoise(0.5, 100), (3, 32, 32)),
    (MixedLinfNoise(0.25, 0), (1, 1, 3)),
    (GaussianNoise(0.25), (1, 8, 8)),
    (GaussianNoise(0.5), (3, 32, 32)),
    (UniformL1Noise(0.25), (1, 8, 8)),
    (SplittingNoise(0.5), (1, 8, 8)),
    (SplittingNoise(0.12), (3, 32, 32)),  # λ < 0.5: several pieces per coordinate
]


def generators(seeds: list[int]) -> list[torch.Generator | None]:
    return [torch.Generator().manual_seed(s) for s in seeds]


@pytest.mark.parametrize(("noise", "shape"), FAMILIES, ids=lambda v: repr(v) if isinstance(v, NoiseFamily) else str(v))
def test_blocks_drawn_together_equal_blocks_drawn_alone(noise: NoiseFamily, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    sizes = SIZES if shape != (3, 32, 32) else [7, 1, 40]  # keep the CIFAR-sized case small
    xs = [torch.rand(shape) for _ in sizes]
    seeds = [1000 + 17 * b for b in range(len(sizes))]
    buffer = torch.empty(sum(sizes), *shape)
    noise.perturb_blocks_into(xs, buffer, sizes, generators(seeds))
    together = buffer.split(sizes)
    for b, (x, n, seed) in enumerate(zip(xs, sizes, seeds)):
        alone = torch.empty(n, *shape)
        noise.perturb_into(x, alone, torch.Generator().manual_seed(seed))
        assert torch.equal(together[b], alone), f"block {b} of {n} rows"
        # and the plain definition, perturb on the expanded input
        assert torch.equal(alone, noise.perturb(x.expand(n, *shape), torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize(("noise", "shape"), FAMILIES, ids=lambda v: repr(v) if isinstance(v, NoiseFamily) else str(v))
def test_blocks_of_one_input_drawn_together_equal_blocks_drawn_alone(
    noise: NoiseFamily, shape: tuple[int, ...]
) -> None:
    """The engine hands an input's consecutive blocks the same view, and a family adds x (SSN: subtracts s)
    once per run of them (:func:`input_runs`): runs of one input, split by another, and equal views made
    apart (``inputs[0]`` twice) must all give each block's own values."""
    torch.manual_seed(1)
    inputs = torch.rand(3, *shape)
    sizes = SIZES if shape != (3, 32, 32) else [7, 1, 40, 3]
    picks = [0, 0, 1, 1, 0, 2][: len(sizes)]
    xs = [inputs[i] for i in picks]  # a new view object per block: merged by memory, not by identity
    seeds = [77 + b for b in range(len(sizes))]
    buffer = torch.empty(sum(sizes), *shape)
    noise.perturb_blocks_into(xs, buffer, sizes, generators(seeds))
    alone = [noise.perturb(x.expand(n, *shape), torch.Generator().manual_seed(s)) for x, n, s in zip(xs, sizes, seeds)]
    assert torch.equal(buffer, torch.cat(alone))


def test_input_runs_merge_consecutive_blocks_of_the_same_memory_only() -> None:
    base = torch.rand(3, 2, 4)
    copy = base[0].clone()  # the same values elsewhere: a run of its own (no value comparison)
    transposed = base[0].transpose(0, 1)  # the same first address, another layout
    xs = [base[0], base[0], base[0], base[1], base[0], copy, transposed, base[2], base[2]]
    sizes = [5, 0, 3, 2, 4, 1, 1, 6, 2]
    runs = [(x.data_ptr(), tuple(x.stride()), row, rows) for x, row, rows in input_runs(xs, sizes)]
    p = base.data_ptr()
    assert runs == [
        (p, (4, 1), 0, 8),
        (p + 8 * 4, (4, 1), 8, 2),
        (p, (4, 1), 10, 4),
        (copy.data_ptr(), (4, 1), 14, 1),
        (p, (1, 4), 15, 1),
        (p + 16 * 4, (4, 1), 16, 8),
    ]
    assert list(input_runs([base[0]], [0])) == []


@pytest.mark.parametrize("shape", [0.25, 0.75, 1.0, 2.5, 33.0, 1537.0])
def test_gamma_blocks_equal_gamma_alone(shape: float) -> None:
    seeds = [3, 4, 5, 6, 7]
    sizes = [256, 7, 1, 100, 13]
    together = sample_gamma_blocks(shape, sizes, generators(seeds), CPU)
    alone = torch.cat([sample_gamma(shape, n, torch.Generator().manual_seed(s), CPU) for n, s in zip(sizes, seeds)])
    assert torch.equal(together, alone)


def test_norm_envelope_blocks_equal_blocks_alone() -> None:
    envelope = NormEnvelope(0.25, 5.0, 64)
    seeds, sizes = [11, 12, 13, 14], [256, 3, 99, 256]
    together = envelope.sample_blocks(sizes, generators(seeds), CPU)
    alone = torch.cat([envelope.sample(n, torch.Generator().manual_seed(s), CPU) for n, s in zip(sizes, seeds)])
    assert torch.equal(together, alone)


def test_a_pow_over_all_blocks_at_once_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a non-integer ``pow`` over the concatenated blocks (instead of block by block)
    changes some last bits in torch's CPU kernels, and the comparison above sees it."""
    monkeypatch.setattr(gamma_module, "per_block", lambda values, sizes, op: op(values))
    seeds, sizes = list(range(40)), [7] * 40
    together = sample_gamma_blocks(0.25, sizes, generators(seeds), CPU)
    alone = torch.cat([sample_gamma(0.25, n, torch.Generator().manual_seed(s), CPU) for n, s in zip(sizes, seeds)])
    assert not torch.equal(together, alone)


def test_empty_blocks_are_allowed() -> None:
    noise = MixedLinfNoise(0.25, 5)
    out = torch.empty(5, 1, 8, 8)
    noise.perturb_blocks_into([torch.zeros(1, 8, 8)] * 2, out, [0, 5], generators([1, 2]))
    alone = noise.perturb(torch.zeros(5, 1, 8, 8), torch.Generator().manual_seed(2))
    assert torch.equal(out, alone)
    assert sample_gamma(2.0, 0, None, CPU).shape == (0,)


def test_block_runs_cover_every_block_once_in_order() -> None:
    sizes = [256, 7, 1, 100, 0, 256, 255, 3]
    runs = list(block_runs(sizes, row_values=64, max_values=300 * 64))
    assert [(first, end) for first, end, _ in runs] == [(0, 3), (3, 5), (5, 6), (6, 8)]
    assert [row for _, _, row in runs] == [0, 264, 364, 620]
    for first, end, _ in runs:  # a run exceeds the limit only when it is a single block
        assert sum(sizes[first:end]) <= 300 or end - first == 1
    assert list(block_runs([], 64, 100)) == []


def test_splitting_noise_in_several_runs_equals_blocks_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """SSN's arithmetic runs over cache-sized runs of blocks; with a small run size the blocks fall into
    several runs (and one block bigger than a run), and the values must not move."""
    monkeypatch.setattr(splitting_module, "SPLIT_RUN_VALUES", 100 * 64)
    noise, shape = SplittingNoise(0.3), (1, 8, 8)
    xs = [torch.rand(shape) for _ in SIZES]
    seeds = [50 + b for b in range(len(SIZES))]
    buffer = torch.empty(sum(SIZES), *shape)
    noise.perturb_blocks_into(xs, buffer, SIZES, generators(seeds))
    alone = [noise.perturb(x.expand(n, *shape), torch.Generator().manual_seed(s)) for x, n, s in zip(xs, SIZES, seeds)]
    assert torch.equal(buffer, torch.cat(alone))
