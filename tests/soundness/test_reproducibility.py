"""Per-example randomness (docs/design.md §3.1): an input's counts depend on (seed, id, phase, n) only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from rsmooth.noise import DeterministicSplittingNoise, GaussianNoise, SplittingNoise, UniformL1Noise
from rsmooth.results import ResultsWriter, certify_examples, read_rows
from rsmooth.smoothing import CertificationSettings, Phase, SequentialSettings, Smooth


def _net(seed: int = 0) -> nn.Module:
    """A small random CNN whose smoothed vote is far from unanimous at σ = 0.5 (counts carry the noise)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 4)).eval()


def _inputs(m: int = 4) -> torch.Tensor:
    return torch.rand(m, 1, 8, 8, generator=torch.Generator().manual_seed(7))


def _key(result) -> tuple:  # type: ignore[no-untyped-def]
    return (result.prediction, result.radius, result.p_lower, result.count, result.count_runner_up)


@pytest.mark.parametrize("noise", [GaussianNoise(0.5), UniformL1Noise(0.5), SplittingNoise(0.5)], ids=str)
def test_counts_do_not_depend_on_batch_size_or_grouping(noise) -> None:  # type: ignore[no-untyped-def]
    net, xs = _net(), _inputs()
    smooth = Smooth(net, noise, 4, seed=11)
    alone = [smooth.certify(xs[2], n0=100, n=1000, alpha=0.001, batch_size=bs, id=42) for bs in (64, 333)]
    group = [smooth.certify_many(xs, 100, 1000, 0.001, batch_size=bs, ids=[5, 6, 42, 8])[2] for bs in (64, 333)]
    assert _key(alone[0]) == _key(alone[1]) == _key(group[0]) == _key(group[1])
    raw = [smooth.counter.count(xs[2:3], 1000, Phase.ESTIMATION, [42], bs).tolist() for bs in (64, 333, 1000, 7)]
    assert raw[0] == raw[1] == raw[2] == raw[3]
    assert 0 < max(raw[0][0]) < 1000  # the vote is really random: the test could fail


def test_another_seed_or_id_gives_other_counts() -> None:
    net, xs = _net(), _inputs()
    count = {
        (seed, i): Smooth(net, GaussianNoise(0.5), 4, seed=seed).counter.count(xs[:1], 1000, Phase.ESTIMATION, [i], 100)
        for seed, i in ((0, 0), (1, 0), (0, 1))
    }
    assert not torch.equal(count[0, 0], count[1, 0]) and not torch.equal(count[0, 0], count[0, 1])


def test_selection_and_estimation_draw_different_noise() -> None:
    smooth = Smooth(_net(), GaussianNoise(0.5), 4, seed=0)
    x = _inputs()[:1]
    a = smooth.counter.count(x, 1000, Phase.SELECTION, [0], 100)
    b = smooth.counter.count(x, 1000, Phase.ESTIMATION, [0], 100)
    assert not torch.equal(a, b)


def _dataset() -> TensorDataset:
    return TensorDataset(_inputs(7), torch.tensor([0, 1, 2, 3, 0, 1, 2]))


def _rows(path: Path) -> dict[int, tuple]:
    return {r.idx: (r.predict, r.radius, r.p_lower, r.count, r.count_runner_up, r.n) for r in read_rows(path)}


def test_resume_point_and_rank_sharding_do_not_change_rows(tmp_path: Path) -> None:
    """One uninterrupted run = a run stopped after 3 rows and resumed = two 'ranks' each certifying every
    other example with their own Smooth (what sharded certification does)."""
    ds, idx = _dataset(), list(range(7))

    def run(path: Path, indices: list[int], group: int, batch: int) -> None:
        with ResultsWriter(path) as w:
            settings = CertificationSettings(n0=50, n=400, batch_size=batch, group_size=group, progress=False)
            certify_examples(Smooth(_net(), GaussianNoise(0.5), 4, seed=3), ds, indices, settings, writer=w)

    run(tmp_path / "whole.tsv", idx, 1, 1000)
    run(tmp_path / "resumed.tsv", idx[:3], 2, 64)
    run(tmp_path / "resumed.tsv", idx, 3, 333)
    run(tmp_path / "rank0.tsv", idx[0::2], 4, 100)
    run(tmp_path / "rank1.tsv", idx[1::2], 1, 50)
    whole = _rows(tmp_path / "whole.tsv")
    assert _rows(tmp_path / "resumed.tsv") == whole
    assert {**_rows(tmp_path / "rank0.tsv"), **_rows(tmp_path / "rank1.tsv")} == whole
    assert len({v[3] for v in whole.values()}) > 1


THREADS = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
from tests.soundness.test_reproducibility import _inputs, _net
from rsmooth.smoothing import Phase, Smooth
from rsmooth.noise import GaussianNoise
s = Smooth(_net(), GaussianNoise(0.5), 4, seed=5)
print(s.counter.count(_inputs(), 2000, Phase.ESTIMATION, [0, 1, 2, 3], 512).tolist())
"""


def test_counts_do_not_depend_on_the_cpu_thread_count() -> None:
    root = Path(__file__).resolve().parents[2]
    outs = [
        subprocess.run(
            [sys.executable, "-c", THREADS, str(t)], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        for t in (1, 2)
    ]
    assert outs[0] == outs[1] and outs[0].count(",") > 10


def test_exact_enumeration_does_not_depend_on_batching() -> None:
    noise = DeterministicSplittingNoise(0.5, 16, seed=0)
    xs = torch.round(_inputs() * 16) / 16
    a = Smooth(_net(), noise, 4).certify_many(xs, 1, 1, 0.001, batch_size=7)
    b = Smooth(_net(), noise, 4).certify_many(xs[1:2], 1, 1, 0.001, batch_size=1000)
    assert _key(a[1]) == _key(b[0]) and a[1].exact_radius == b[0].exact_radius


def _plan(mode: str, batch_size: int) -> CertificationSettings:
    """Fixed n = 1024, or sequential with budget 1024 from 256 samples."""
    sequential = SequentialSettings(radii=[0.0, 0.25], first=256)
    return CertificationSettings(n0=50, n=1024, batch_size=batch_size, mode=mode, sequential=sequential, progress=False)


def _rank_main(rank: int, world: int, init: str, out: str, mode: str) -> None:
    import torch.distributed as dist

    from rsmooth.analysis.gather import CertificationRows

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        smooth = Smooth(_net(), GaussianNoise(0.5), 4, seed=3)
        mine = certify_examples(smooth, _dataset(), list(range(7))[rank::world], _plan(mode, 128)).rows
        gather = CertificationRows(smooth.certificate.norm, smooth.noise.describe(), smooth.certificate.name)
        gather.update(mine)
        rows = gather.rows()  # all ranks' rows (torchmetrics all_gather)
        if rank == 0:
            with ResultsWriter(out) as w:
                for row in rows:
                    w.write(row)
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("mode", ["sequential"])
def test_two_ranks_give_the_rows_of_one_process(tmp_path: Path, mode: str) -> None:
    """Examples sharded over 2 gloo processes and gathered: the same rows as one process, in sequential mode,
    where each input stops at its own stage (fixed mode: the torchrun and srun tests of
    ``tests/integration/test_distributed.py``, byte for byte)."""
    import torch.multiprocessing as mp

    mp.spawn(
        _rank_main, args=(2, f"file://{tmp_path / 'init'}", str(tmp_path / "ranks.tsv"), mode), nprocs=2, join=True
    )
    with ResultsWriter(tmp_path / "one.tsv") as w:
        certify_examples(
            Smooth(_net(), GaussianNoise(0.5), 4, seed=3), _dataset(), list(range(7)), _plan(mode, 1000), writer=w
        )
    assert _rows(tmp_path / "ranks.tsv") == _rows(tmp_path / "one.tsv") and len(_rows(tmp_path / "one.tsv")) == 7
    if mode == "sequential":
        assert {r.n for r in read_rows(tmp_path / "one.tsv")} <= {256, 512, 1024}
