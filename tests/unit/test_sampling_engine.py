"""The sampling engine's performance contract: no host transfer per batch,
noise drawn and added in float32 in every family (autocast on), a reused buffer that gives exactly the
votes of drawing each block on its own, batches filled across inputs, DSSN's L evaluations per image."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from rsmooth.cli.config import compose, config_dir
from rsmooth.errors import ConfigError
from rsmooth.noise import (
    AdditiveNoise,
    DeterministicSplittingNoise,
    DiscreteGaussianNoise,
    GaussianNoise,
    NoiseFamily,
    SplittingNoise,
)
from rsmooth.noise.splitting import split_midpoint
from rsmooth.results import certify_examples
from rsmooth.smoothing import CertificationSettings, Smooth, sampling
from rsmooth.smoothing.cpu import NoiseThreads
from rsmooth.smoothing.loop import auto_group_size, exact_group_size, group_size
from rsmooth.smoothing.sampling import BLOCK_SIZE, Phase, VoteCounter, block_seed

#: every family that has landed: one YAML per family in conf/noise/
NOISE_NAMES = sorted(p.stem for p in (config_dir() / "noise").glob("*.yaml"))


def conf_noise(name: str) -> NoiseFamily:
    return instantiate(compose("train", [f"noise={name}"]).noise)  # type: ignore[no-any-return]


def grid_inputs(noise: NoiseFamily, m: int, seed: int = 0) -> torch.Tensor:
    """m images (1, 8, 8) on the family's q-grid (DSSN) or the digits grid (q = 16)."""
    q = getattr(noise, "q", 16)
    return torch.randint(0, q + 1, (m, 1, 8, 8), generator=torch.Generator().manual_seed(seed)).float() / q


class Recorder(nn.Module):
    """A linear classifier that keeps every batch it is handed (and its dtype and layout)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 10)
        self.batches: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.detach().clone(memory_format=torch.preserve_format))
        return self.linear(x.flatten(1))


# ------------------------------------------------------------------------------ no host transfer per batch
class HostReads(TorchDispatchMode):
    """Counts the aten ops that read device values back to the host (.item(), bool(), nonzero …)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func in (torch.ops.aten._local_scalar_dense.default, torch.ops.aten.nonzero.default):
            self.reads += 1
        return func(*args, **(kwargs or {}))


@contextmanager
def count_host_transfers(monkeypatch: pytest.MonkeyPatch) -> Iterator[HostReads]:
    """Count .item()/bool()/int()/nonzero (via the dispatcher; this thread's ops, so the caller runs the
    engine with one noise thread) and .cpu()/.numpy()/.tolist() calls (a no-op on CPU, but still a call)."""
    mode = HostReads()
    for name in ("cpu", "numpy", "tolist"):
        original = getattr(torch.Tensor, name)

        def spy(self: torch.Tensor, *a: object, _orig: object = original, **k: object) -> object:
            mode.reads += 1
            return _orig(self, *a, **k)  # type: ignore[operator]

        monkeypatch.setattr(torch.Tensor, name, spy)
    monkeypatch.setattr(sampling, "process_noise_threads", lambda: None)  # the caller draws alone
    with mode:
        yield mode
    monkeypatch.undo()


@pytest.mark.parametrize("name", ["gaussian", "uniform_l1", "ssn", "dssn"])
def test_sampling_loop_reads_nothing_back_per_batch(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    noise = conf_noise(name)
    model = Recorder()
    counter = VoteCounter(model, noise, 10, seed=3)
    xs = grid_inputs(noise, 3)
    with count_host_transfers(monkeypatch) as spy:
        if noise.num_draws() is None:
            votes = counter.count(xs, 3000, Phase.ESTIMATION, [0, 1, 2], batch_size=100)
        else:
            votes = counter.count_draws(xs, batch_size=100)
    assert len(model.batches) >= 9  # many batches …
    assert spy.reads == 1  # … and one value read back, when the count is done: whether any logit was not finite
    assert int(votes.sum()) == sum(b.shape[0] for b in model.batches)


def test_certify_reads_back_per_call_not_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole of CERTIFY: its host reads do not grow with the number of batches."""
    smooth = Smooth(Recorder(), GaussianNoise(0.25), 10)
    xs = grid_inputs(smooth.noise, 2)
    reads = []
    for n in (1_000, 20_000):
        with count_host_transfers(monkeypatch) as spy:
            smooth.certify_many(xs, 100, n, 0.001, batch_size=200)
        reads.append(spy.reads)
    assert reads[0] == reads[1]
    assert reads[1] <= 10  # a handful per call: selection counts, estimation counts


def test_the_host_transfer_check_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop that reads its votes back per batch (as the reference codes do) is caught."""

    class PerBatchRead(VoteCounter):
        def _count(self, fills, m, rows, batch_size, progress, ids=None):  # type: ignore[no-untyped-def]
            for _, noisy in fills:
                for row in range(0, noisy.shape[0], batch_size):
                    self.base(noisy[row : row + batch_size]).argmax(1).cpu()
            return torch.zeros(m, self.num_classes, dtype=torch.int64)

    counter = PerBatchRead(Recorder(), GaussianNoise(0.25), 10)
    with count_host_transfers(monkeypatch) as spy:
        counter.count(torch.rand(1, 1, 8, 8), 1000, Phase.ESTIMATION, [0], batch_size=100)
    assert spy.reads == 10


# ------------------------------------------------------------------------------ float32 noise, autocast on
def check_float32_noise(noise: NoiseFamily) -> None:
    """The model's input is float32 and equals x + z computed in float32 (additive families; z from the
    family's own sampler and not on a half-precision grid), or the splitting transform computed apart."""
    x = grid_inputs(noise, 1, seed=5)
    model = Recorder()
    counter = VoteCounter(model, noise, 10, seed=11, autocast_dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # even a caller's autocast must not reach the noise
        if noise.num_draws() is None:
            counter.count(x, BLOCK_SIZE, Phase.ESTIMATION, [4], batch_size=BLOCK_SIZE)
        else:
            counter.count_draws(x, batch_size=10_000)
    (seen,) = model.batches
    assert seen.dtype == torch.float32
    gen = torch.Generator().manual_seed(block_seed(11, 4, Phase.ESTIMATION, 0))
    shape = (BLOCK_SIZE, *x.shape[1:])
    if isinstance(noise, AdditiveNoise):
        z = noise.sample_noise(shape, gen, x.device)
        assert z.dtype == torch.float32
        for half in (torch.bfloat16, torch.float16):  # float32 draws almost never sit on a 16-bit grid
            assert (z.to(half).float() == z).float().mean() < 0.2, f"noise drawn in {half}"
        assert torch.equal(seen, x.float() + z)  # added in float32: bit for bit
        return
    if isinstance(noise, DiscreteGaussianNoise):  # the lattice point k + j, then one float32 division by q
        j = noise.lattice_offsets(shape, gen, x.device)
        assert torch.equal(seen, (torch.round(x.double() * noise.q).long() + j).float() / noise.q)
        return
    if isinstance(noise, DeterministicSplittingNoise):  # every draw j, from the offsets, in float64
        j = torch.arange(noise.L).view(-1, 1)
        s = ((noise.offsets(64).view(1, -1) + j) % noise.L + 0.5).double() / noise.q
        expected = split_midpoint(x.double().flatten().view(1, -1), s, 2 * noise.lam).view(-1, *x.shape[1:])
    else:
        assert isinstance(noise, SplittingNoise)
        s = torch.rand(shape, generator=gen, dtype=torch.float32) * (2 * noise.lam)
        expected = split_midpoint(x.double(), s.double(), 2 * noise.lam)
    assert torch.allclose(seen.double(), expected, rtol=0, atol=2e-7)  # half precision is off by ~1e-3


@pytest.mark.parametrize("name", NOISE_NAMES)
def test_every_family_hands_the_model_float32_x_plus_z(name: str) -> None:
    check_float32_noise(conf_noise(name))


class GaussianDrawnInHalf(GaussianNoise):
    def noise_blocks_into(self, out, sizes, generators):  # type: ignore[no-untyped-def]
        super().noise_blocks_into(out, sizes, generators)
        out.copy_(out.to(torch.bfloat16))


class GaussianAddedInHalf(GaussianNoise):
    def perturb_blocks_into(self, xs, out, sizes, generators):  # type: ignore[no-untyped-def]
        self.noise_blocks_into(out, sizes, generators)
        for x, rows in zip(xs, out.split(list(sizes))):
            rows.copy_(rows.half() + x.half())


@pytest.mark.parametrize("broken", [GaussianDrawnInHalf(0.25), GaussianAddedInHalf(0.25)])
def test_the_float32_check_fails_on_half_precision_noise(broken: NoiseFamily) -> None:
    with pytest.raises(AssertionError):
        check_float32_noise(broken)


# ------------------------------------------------------------------------------ the buffer gives the same votes
def votes_block_by_block(
    model: nn.Module,
    noise: NoiseFamily,
    xs: torch.Tensor,
    num: int,
    phase: Phase,
    ids: list[int],
    seed: int,
    start: int = 0,
) -> torch.Tensor:
    """The definition: each block drawn on its own by ``perturb`` and classified on its own."""
    out = torch.zeros(len(ids), 10, dtype=torch.int64)
    with torch.inference_mode():
        for i, example_id in enumerate(ids):
            for block, offset in enumerate(range(0, num, BLOCK_SIZE), start=start // BLOCK_SIZE):
                size = min(BLOCK_SIZE, num - offset)
                gen = torch.Generator().manual_seed(block_seed(seed, example_id, phase, block))
                noisy = noise.perturb(xs[i : i + 1].expand(size, *xs.shape[1:]), generator=gen)
                out[i] += torch.bincount(model(noisy).argmax(1), minlength=10)
    return out


@pytest.mark.parametrize("name", NOISE_NAMES)
def test_buffered_parallel_engine_gives_the_block_by_block_votes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    noise = conf_noise(name)
    if noise.num_draws() is not None:
        pytest.skip("enumerated family: no random blocks")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval()
    xs = grid_inputs(noise, 3)
    ids = [5, 0, 9]
    expected = votes_block_by_block(model, noise, xs, 700, Phase.SELECTION, ids, seed=2, start=512)
    # workers, rows per fill, values per chunk of blocks handed to perturb_blocks_into (1: a block each)
    for workers, fill, chunk in ((1, 4096, 2**20), (2, 4096, 2**20), (2, 4096, 1), (2, 300, 2**20), (3, 64, 2**14)):
        monkeypatch.setattr(sampling, "CPU_FILL_ROWS", fill)
        monkeypatch.setattr(sampling, "CHUNK_ELEMENTS", chunk)
        with NoiseThreads(workers) as threads:
            for batch in (1, 7, 256, 333, 5000):
                counter = VoteCounter(model, noise, 10, seed=2, noise_threads=threads)
                got = counter.count(xs, 700, Phase.SELECTION, ids, batch_size=batch, start=512)
                assert torch.equal(got, expected), (workers, fill, chunk, batch)


def test_perturb_into_equals_perturb_bit_for_bit() -> None:
    for name in NOISE_NAMES:
        noise = conf_noise(name)
        x = grid_inputs(noise, 1)[0]
        out = torch.empty(40, *x.shape)
        noise.perturb_into(x, out, torch.Generator().manual_seed(1))
        assert torch.equal(out, noise.perturb(x.expand(40, *x.shape), torch.Generator().manual_seed(1))), name


def test_noise_threads_run_torch_ops_on_one_thread_and_leave_the_callers_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pool thread draws with one OpenMP thread (two drawing threads must not open two teams of two on
    two cores); the caller's count, and the count a thread started later begins with, stay as they were."""
    before = torch.get_num_threads()
    threads = None
    try:
        torch.set_num_threads(3)
        threads = NoiseThreads(4)  # the caller and 3 helpers
        pool = threads._helper_pool(3)
        seen = {pool.submit(lambda: (threading.get_ident(), torch.get_num_threads())).result() for _ in range(12)}
        assert {count for _, count in seen} == {1}
        assert torch.get_num_threads() == 3
        later: list[int] = []
        thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert later == [3]
        # the engine uses those threads: a count of several blocks on 4 workers matches one at a time
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))  # no mode-dependent layer
        xs = torch.rand(4, 1, 8, 8)
        counter = VoteCounter(model, GaussianNoise(0.25), 10, seed=1, noise_threads=threads)
        got = counter.count(xs, 3 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1, 2, 3], batch_size=500)
        expected = votes_block_by_block(
            model, GaussianNoise(0.25), xs, 3 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1, 2, 3], seed=1
        )
        assert torch.equal(got, expected)
    finally:
        if threads is not None:
            threads.close()
        torch.set_num_threads(before)


def test_the_caller_draws_its_share_on_one_openmp_thread_and_gets_its_count_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the helpers draw, the caller draws too, with its torch thread count at 1 (a team of its own
    would wait for a core a helper holds); its count is put back after, also when its share raises."""
    seen: list[tuple[bool, int]] = []

    class Watched(GaussianNoise):
        fail = False

        def noise_blocks_into(self, out, sizes, generators):  # type: ignore[no-untyped-def]
            caller = threading.current_thread() is threading.main_thread()
            seen.append((caller, torch.get_num_threads()))
            time.sleep(0.05)  # long enough that each thread takes one of the two runs of blocks
            if self.fail and caller:
                raise RuntimeError("caller's share broke")
            super().noise_blocks_into(out, sizes, generators)

    before = torch.get_num_threads()
    threads = NoiseThreads(2)
    try:
        torch.set_num_threads(2)
        noise = Watched(0.25)
        counter = VoteCounter(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), noise, 10, noise_threads=threads)
        counter.count(torch.rand(4, 1, 8, 8), 2 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1, 2, 3], batch_size=500)
        assert {caller for caller, _ in seen} == {True, False} and {count for _, count in seen} == {1}
        assert torch.get_num_threads() == 2
        noise.fail = True
        with pytest.raises(RuntimeError, match="caller's share broke"):
            counter.count(torch.rand(4, 1, 8, 8), 2 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1, 2, 3], batch_size=500)
        assert torch.get_num_threads() == 2
    finally:
        threads.close()
        torch.set_num_threads(before)


def test_a_worker_error_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    class Failing(GaussianNoise):
        def noise_blocks_into(self, out, sizes, generators):  # type: ignore[no-untyped-def]
            raise RuntimeError("sampler broke")

    with NoiseThreads(2) as threads:
        counter = VoteCounter(Recorder(), Failing(0.25), 10, noise_threads=threads)
        with pytest.raises(RuntimeError, match="sampler broke"):
            counter.count(torch.rand(1, 1, 8, 8), 4 * BLOCK_SIZE, Phase.ESTIMATION, [0], batch_size=BLOCK_SIZE)


# ------------------------------------------------------------------------------ filled batches
def test_auto_group_size_fills_the_smallest_phase() -> None:
    assert auto_group_size(1000, 100) == 10
    assert auto_group_size(1000, 16) == 63
    assert auto_group_size(1000, 27) == 38  # DSSN on digits: L = 27
    assert auto_group_size(1000, 100_000) == 1
    assert CertificationSettings(group_size="auto").groups_automatically
    assert CertificationSettings(group_size=None).groups_automatically
    assert not CertificationSettings(group_size=4).groups_automatically
    with pytest.raises(ConfigError, match="certification.group_size must be auto or an integer >= 1, got 'many'"):
        CertificationSettings(group_size="many")


def test_filled_batches_give_one_at_a_time_results() -> None:
    torch.manual_seed(0)
    smooth = Smooth(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).eval(), GaussianNoise(0.25), 10)
    data = [(x, 3) for x in grid_inputs(smooth.noise, 20)]
    settings = CertificationSettings(n0=16, n=128, batch_size=1000, progress=False)
    auto = certify_examples(smooth, data, range(20), settings).rows
    single = certify_examples(
        smooth, data, range(20), CertificationSettings(n0=16, n=128, batch_size=1000, group_size=1, progress=False)
    ).rows
    strip = lambda rows: [r.__dict__ | {"time": 0} for r in rows]  # noqa: E731
    assert strip(auto) == strip(single)


def test_a_short_last_fill_after_a_long_one_counts_without_resizing_a_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Predictions go into a buffer sized for the longest fill; the last fill's short batch must write into a
    slice of its own length (a longer slice as ``out=`` is resized, with a deprecation warning)."""
    monkeypatch.setattr(sampling, "process_noise_threads", lambda: None)  # one batch per fill: 1 000, then 300
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    xs = torch.rand(1, 1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = VoteCounter(model, GaussianNoise(0.25), 10, seed=3).count(
            xs, 1300, Phase.ESTIMATION, [0], batch_size=1000
        )
    assert torch.equal(got, votes_block_by_block(model, GaussianNoise(0.25), xs, 1300, Phase.ESTIMATION, [0], seed=3))


def test_dssn_evaluates_each_draw_once_in_full_batches() -> None:
    noise = DeterministicSplittingNoise(0.5, 16)  # L = 27
    model = Recorder()
    smooth = Smooth(model, noise, 10)
    data = [(x, 1) for x in grid_inputs(noise, 50)]
    settings = CertificationSettings(n0=1, n=1, batch_size=100, progress=False)
    certify_examples(smooth, data, range(50), settings)
    sizes = [b.shape[0] for b in model.batches]
    assert sum(sizes) == 50 * noise.L  # exactly L evaluations per image
    assert group_size(smooth, settings) == exact_group_size(100, 27) == 14  # 378 draws per group
    assert sizes == [100, 100, 100, 78] * 3 + [100, 100, 16]  # 3 groups of 14 images (four nearly full batches), then 8
    assert exact_group_size(1000, 27) == 148 and exact_group_size(1000, 27, batches=1) == 37
    assert exact_group_size(400, 441) == 3 and exact_group_size(400, 1700) == 1
    assert noise._device_offsets[(64, "cpu")].dtype == torch.int32  # offsets kept on the device, int32


def test_dssn_training_checks_the_first_batch_only() -> None:
    noise = DeterministicSplittingNoise(0.5, 16)
    with pytest.raises(ValueError, match="quantized"):
        noise.perturb(torch.full((2, 1, 8, 8), 0.51))
    noise.perturb(torch.full((2, 1, 8, 8), 0.5))  # first good batch of this shape: checked, passes
    later = noise.perturb(torch.full((2, 1, 8, 8), 0.51), torch.Generator().manual_seed(3))  # not checked …
    on_grid = noise.perturb(torch.full((2, 1, 8, 8), 0.5), torch.Generator().manual_seed(3))
    assert torch.equal(later, on_grid)  # … and rounded to the grid by the transform: 0.51·16 → 8
    with pytest.raises(ValueError, match="quantized"):  # a new shape is checked again
        noise.perturb(torch.full((2, 1, 4, 4), 0.51))


# ------------------------------------------------------------------------------ speed switches
def test_speed_switches_are_checked_and_recorded() -> None:
    cert = CertificationSettings(device="cpu", channels_last=True)
    assert cert.speed_switches() == {"channels_last": True}
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(144, 10))
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _m, a: seen.append(a[0]))
    smooth = Smooth.from_settings(model, GaussianNoise(0.25), 10, cert)
    assert smooth.base[0].weight.is_contiguous(memory_format=torch.channels_last)
    xs = torch.rand(2, 1, 8, 8)
    votes = smooth.counter.count(xs, 300, Phase.ESTIMATION, [0, 1], batch_size=128)
    assert all(b.is_contiguous(memory_format=torch.channels_last) for b in seen)
    plain = VoteCounter(model.to(memory_format=torch.contiguous_format), GaussianNoise(0.25), 10)
    assert (votes - plain.count(xs, 300, Phase.ESTIMATION, [0, 1], batch_size=128)).abs().max() <= 2
    with pytest.raises(ConfigError, match="certification.compile must be true or false, got 'yes'"):
        CertificationSettings(compile="yes")  # type: ignore[arg-type]


@pytest.mark.slow
def test_compiled_network_certifies_like_the_eager_one() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10)).eval()
    compiled = Smooth.from_settings(model, GaussianNoise(0.25), 10, CertificationSettings(device="cpu", compile=True))
    eager = Smooth(model, GaussianNoise(0.25), 10)
    xs = torch.rand(3, 1, 8, 8)
    a = compiled.certify_many(xs, 50, 500, 0.001, 128)
    b = eager.certify_many(xs, 50, 500, 0.001, 128)
    assert [r.prediction for r in a] == [r.prediction for r in b]
    assert all(abs(r.count - s.count) <= 2 for r, s in zip(a, b))


def test_default_noise_threads_follow_the_thread_count_at_each_draw() -> None:
    """``NoiseThreads()`` draws with torch's current thread count: under DDP on CPU, where each process is set
    to one thread, the caller draws alone and no helper competes for its core."""
    before = torch.get_num_threads()
    threads = NoiseThreads()
    counter = VoteCounter(
        nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), GaussianNoise(0.25), 10, noise_threads=threads
    )
    try:
        torch.set_num_threads(1)
        assert threads.workers == 1 and counter._threads(torch.device("cpu")) is None
        torch.set_num_threads(2)
        assert threads.workers == 2 and counter._threads(torch.device("cpu")) is threads
        counter.count(torch.rand(2, 1, 8, 8), 4 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1], batch_size=500)
        assert threads._helpers == 1
    finally:
        threads.close()
        torch.set_num_threads(before)


def test_a_stalled_noise_thread_leaves_its_share_to_the_others() -> None:
    """Threads take runs of blocks as they become free: a helper that loses its core for a while (here it
    sleeps on its first run) does not hold the fill back, and the votes are those of drawing block by block."""
    drawn = {"caller": 0, "helper": 0}
    stalled: list[bool] = []

    class Stalling(GaussianNoise):
        def noise_blocks_into(self, out, sizes, generators):  # type: ignore[no-untyped-def]
            caller = threading.current_thread() is threading.main_thread()
            if not caller and not stalled:
                stalled.append(True)
                time.sleep(0.5)
            drawn["caller" if caller else "helper"] += len(sizes)
            super().noise_blocks_into(out, sizes, generators)

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    xs = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with NoiseThreads(2) as threads:
        counter = VoteCounter(model, Stalling(0.25), 10, seed=4, noise_threads=threads)
        got = counter.count(xs, 16 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1, 2, 3], batch_size=1024)
    assert drawn["caller"] + drawn["helper"] == 64 and drawn["caller"] >= 48  # halves would give it 32
    expected = votes_block_by_block(
        model, GaussianNoise(0.25), xs, 16 * BLOCK_SIZE, Phase.ESTIMATION, [0, 1, 2, 3], seed=4
    )
    assert torch.equal(got, expected)


def test_automatic_groups_hold_at_most_group_samples_so_a_kill_loses_little() -> None:
    from rsmooth.smoothing.loop import GROUP_SAMPLES

    smooth = Smooth(Recorder(), GaussianNoise(0.25), 10)
    assert group_size(smooth, CertificationSettings(n0=100, n=100_000, batch_size=1000)) == 10  # Cohen's setting
    assert group_size(smooth, CertificationSettings(n0=100, n=10**8, batch_size=1000)) == 1
    assert group_size(smooth, CertificationSettings(n0=10, n=GROUP_SAMPLES // 4, batch_size=1000)) == 4
    assert group_size(smooth, CertificationSettings(n0=100, n=10**8, group_size=3)) == 3  # as the user said


def test_the_progress_bar_counts_samples_with_a_rate(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rsmooth.smoothing.loop import certify_dataset

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a bar is drawn on a terminal only

    smooth = Smooth(Recorder(), GaussianNoise(0.25), 10)
    dataset = [(torch.rand(1, 8, 8), 0) for _ in range(2)]
    settings = CertificationSettings(n0=100, n=5000, batch_size=500, group_size=1, progress=True)
    groups = list(certify_dataset(smooth, dataset, [0, 1], settings))
    err = capsys.readouterr().err
    assert len(groups) == 2
    assert "sampling" in err and "sample/s" in err and "/5.00k" in err  # counted in samples, a rate, the total
