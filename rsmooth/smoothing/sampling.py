"""The sampling loop: the base classifier's votes on noisy copies, with per-example randomness.

Randomness scheme (docs/design.md §3.1). The noisy copies of input ``id`` in phase ``phase`` under seed
``seed`` come in blocks of :data:`BLOCK_SIZE`; block b is drawn by the family's ``perturb`` from a
fresh generator seeded with ``block_seed(seed, id, phase, b)``. An input's votes therefore depend
on (seed, id, phase, n) only: not on the batch size, on which inputs share a batch, on where a
run was resumed, on the rank that certifies it, or on the CPU thread count. (CPU and CUDA
generators differ, so the device type is part of a run's provenance; and a base network whose
logits change with the batch composition, e.g. a different convolution algorithm per batch size,
can still flip a near-tie vote.)

Votes are accumulated on the device; the caller makes one host transfer per call.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator, Sequence
from enum import IntEnum

import torch
from torch import nn

from rsmooth.errors import ModelOutputError
from rsmooth.noise.base import NoiseFamily
from rsmooth.smoothing.cpu import NoiseThreads, process_noise_threads

#: samples per independently seeded block of noise
BLOCK_SIZE = 256
#: recorded in result files: a change here changes every count
RNG_SCHEME = f"block{BLOCK_SIZE}-splitmix64-torch.Generator-v1"

_MASK64 = (1 << 64) - 1

#: on CPU, rows drawn (in parallel, block by block) before batches are handed to the model: enough that each
#: thread's share amortizes a sampler's per-call cost (mixed_linf on digits, 2 threads: 0.82 µs per sample at
#: 4 096 rows, 0.40 at 16 384) and the hand-over between the model's OpenMP threads and the noise threads
#: (one linear layer at digits shape, 2 cores, the whole count: 16 384 → 65 536 rows 0.85–0.89× the time,
#: 131 072 no better; 2026-12-06)
CPU_FILL_ROWS = 65536
#: … and at most this many bytes of them
CPU_FILL_BYTES = 64 * 2**20
#: blocks handed to a family's ``perturb_blocks_into`` at once hold at most this many values (or one block),
#: counted by their rows: 16 MiB of float32, so a thread's five 100-row CIFAR blocks share one call
#: (mixed_linf 8.1 → 7.0 µs per sample against 2**20 counted as full blocks, i.e. one block per call)
CHUNK_ELEMENTS = 2**22
#: the fewest blocks a noise thread takes at a time (the last runs of a fill; the first are larger)
MIN_GRAB = 4


class Phase(IntEnum):
    """Which samples of an input a block belongs to (selection and estimation never share one)."""

    SELECTION = 0
    ESTIMATION = 1
    PREDICTION = 2


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def block_seed(seed: int, example_id: int, phase: int, block: int) -> int:
    """A 64-bit generator seed that depends on (seed, id, phase, block) only (splitmix64 chain)."""
    return block_seeds(seed, example_id, phase, block, 1)[0]


def block_seeds(seed: int, example_id: int, phase: int, first: int, count: int) -> list[int]:
    """:func:`block_seed` of blocks ``first`` … ``first + count − 1`` of one input and phase: the chain's
    prefix over (seed, id, phase) is hashed once, then one step per block."""
    h = 0x2545F4914F6CDD1D
    for part in (seed, example_id, phase):
        h = _splitmix64(h ^ (int(part) & _MASK64))
    return [_splitmix64(h ^ (block & _MASK64)) for block in range(first, first + count)]


class VoteCounter:
    """Counts the votes of ``base`` (in eval mode, under ``torch.inference_mode``) on noisy copies.

    Inputs are (m, C, H, W) in [0, 1], already validated. Forward batches hold ``batch_size``
    samples, laid out input-major, so one batch may hold copies of several inputs. The noise is
    drawn and added in float32 outside autocast, into a buffer reused across batches; only the
    forward pass may run in ``autocast_dtype``. ``channels_last`` hands the model its batches in that
    memory layout (same values; the network's kernels, and so its logits, may differ).

    Nothing in the loop reads a value back to the host: votes are summed on the device with
    ``index_add_`` and the caller makes one transfer per call (``tests/unit/test_sampling_engine.py``).
    """

    def __init__(
        self,
        base: nn.Module,
        noise: NoiseFamily,
        num_classes: int,
        seed: int = 0,
        autocast_dtype: torch.dtype | None = None,
        channels_last: bool = False,
        noise_threads: NoiseThreads | None = None,
    ) -> None:
        self.base, self.noise, self.num_classes = base, noise, num_classes
        self.seed, self.autocast_dtype, self.channels_last = seed, autocast_dtype, channels_last
        self.noise_threads = noise_threads
        self._buffer_key: tuple[object, ...] | None = None
        self._owner_buf = self._noisy_buf = torch.empty(0)

    def device(self) -> torch.device:
        """The device of the base classifier's first parameter or buffer (CPU if it has none)."""
        first = next(itertools.chain(self.base.parameters(), self.base.buffers()), None)
        return torch.device("cpu") if first is None else first.device  # not a tuple of all: 0.5 ms for ResNet-20

    # ------------------------------------------------------------------ batches of noisy copies
    def _buffers(self, rows: int, shape: torch.Size, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(owner (rows,) int64, noisy (rows, C, H, W) float32) on ``device``, reused across calls."""
        key = (rows, tuple(shape), device)
        if self._buffer_key != key:
            self._buffer_key = key
            self._owner_buf = torch.empty(rows, dtype=torch.int64, device=device)
            self._noisy_buf = torch.empty((rows, *shape), dtype=torch.float32, device=device)
        return self._owner_buf, self._noisy_buf

    def _threads(self, device: torch.device) -> NoiseThreads | None:
        """The noise threads that draw beside the caller: this counter's, else the process's
        (:func:`~rsmooth.smoothing.cpu.tune_process`), on CPU only; None: the caller draws alone."""
        if device.type != "cpu":
            return None
        threads = self.noise_threads or process_noise_threads()
        return threads if threads is not None and threads.workers > 1 else None

    def _fill_rows(self, batch_size: int, shape: torch.Size, device: torch.device) -> int:
        """How many rows to draw before handing batches out: one batch on an accelerator (its kernels
        run asynchronously anyway) or when the caller draws alone; with noise threads, whole batches up to
        ~:data:`CPU_FILL_ROWS` rows (at most :data:`CPU_FILL_BYTES`), so the blocks can be drawn in parallel
        in large enough pieces."""
        if self._threads(device) is None:
            return batch_size
        row_bytes = 4 * max(1, shape.numel())
        rows = max(batch_size, min(CPU_FILL_ROWS, CPU_FILL_BYTES // row_bytes))
        return batch_size * (rows // batch_size)

    def _draw_blocks(self, xs: torch.Tensor, tasks: list[tuple[int, int, int, int]], out: torch.Tensor) -> None:
        """Draw each block (input i, block seed, first row, rows) into its rows of ``out``; the tasks are in
        row order, each starting where the one before ends.

        Blocks are independent (own generator, own rows), so with noise threads (:meth:`_threads`) they are
        drawn in parallel by the caller and the helpers, one OpenMP thread each (torch releases the GIL in its
        kernels). Each thread takes the next run of consecutive blocks as it becomes free, runs shrinking as
        the fill's blocks run out (a thread's share of what is left, halved; at least :data:`MIN_GRAB` blocks):
        a thread that loses its core for a while (a busy or shared machine) leaves its share to the others
        instead of holding the fill back. A run goes to the family in chunks of up to :data:`CHUNK_ELEMENTS`
        values: one slice of ``out`` per chunk (``perturb_blocks_into``: a rejection sampler runs its arithmetic
        once per chunk, not per block, and writes into the buffer, not into a temporary). The values depend
        neither on the thread nor on the run or chunk a block lands in.
        """
        device = out.device
        inference = torch.is_inference_mode_enabled()
        inputs = xs.unbind(0)  # one view per input, handed to every block of it
        row_values = max(1, out[0].numel())

        def chunks(part: list[tuple[int, int, int, int]]) -> Iterator[list[tuple[int, int, int, int]]]:
            """Consecutive blocks of ``part`` holding at most CHUNK_ELEMENTS values (at least one block each),
            counted by their actual rows: an input with n = 100 has blocks of 100 rows, not BLOCK_SIZE."""
            chunk: list[tuple[int, int, int, int]] = []
            values = 0
            for task in part:
                if chunk and values + task[3] * row_values > CHUNK_ELEMENTS:
                    yield chunk
                    chunk, values = [], 0
                chunk.append(task)
                values += task[3] * row_values
            if chunk:
                yield chunk

        def draw(part: list[tuple[int, int, int, int]], generators: list[torch.Generator]) -> None:
            # reseeding resets a generator's whole state: as good as a new one, so a thread reuses its own
            with torch.inference_mode(inference):
                for chunk in chunks(part):
                    generators += [torch.Generator(device=device) for _ in range(len(chunk) - len(generators))]
                    for gen, (_, seed, _, _) in zip(generators, chunk):
                        gen.manual_seed(seed)
                    start, sizes = chunk[0][2], [size for _, _, _, size in chunk]
                    self.noise.perturb_blocks_into(
                        [inputs[i] for i, _, _, _ in chunk],
                        out[start : start + sum(sizes)],
                        sizes,
                        generators[: len(chunk)],
                    )

        threads = self._threads(device)
        if threads is None or len(tasks) < 2 * threads.workers:
            draw(tasks, [])
            return
        workers = threads.workers
        lock = threading.Lock()
        taken = 0  # blocks handed out so far

        def grab() -> list[tuple[int, int, int, int]]:
            nonlocal taken
            with lock:
                size = max(MIN_GRAB, -(-(len(tasks) - taken) // (2 * workers)))
                part = tasks[taken : taken + size]
                taken += len(part)
            return part

        def work() -> None:
            generators: list[torch.Generator] = []
            while part := grab():
                draw(part, generators)

        threads.run([work] * workers)  # the caller is one of the workers

    def _random_fills(
        self, xs: torch.Tensor, num: int, phase: Phase, ids: Sequence[int], batch_size: int, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(owner (r,), noisy (r, C, H, W)) fills of whole batches (the last fill may end in a partial one):
        copies ``start`` … ``start + num − 1`` of each input's stream, seeded per block (``start`` is a
        multiple of :data:`BLOCK_SIZE`), laid out input-major.

        Blocks are drawn straight into one buffer of fill + BLOCK_SIZE rows (a block is never split across
        two draws, which would change its values); the whole batches go to the consumer as one view, and
        the rows past the last full batch move to the front. A yielded view is valid until the next one is
        requested (the consumer runs the model on it first, in stream order).
        """
        device, shape = xs.device, xs.shape[1:]
        fill = self._fill_rows(batch_size, shape, device)
        owner_buf, noisy_buf = self._buffers(fill + BLOCK_SIZE, shape, device)
        pos = 0  # rows of the buffer planned and not yet handed out
        tasks: list[tuple[int, int, int, int]] = []  # blocks planned and not yet drawn
        first = start // BLOCK_SIZE

        def flush(final: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            nonlocal pos
            self._draw_blocks(xs, tasks, noisy_buf)
            tasks.clear()
            ready = pos if final else pos - pos % batch_size  # whole batches, and at the end what is left
            yield owner_buf[:ready], noisy_buf[:ready]
            if pos > ready:  # fewer than batch_size rows left, all at or after row `ready` >= batch_size
                noisy_buf[: pos - ready].copy_(noisy_buf[ready:pos])
                owner_buf[: pos - ready].copy_(owner_buf[ready:pos])
            pos -= ready

        for i, example_id in enumerate(ids):
            seeds = block_seeds(self.seed, example_id, phase, first, -(-num // BLOCK_SIZE))
            run = pos  # this input's rows not yet marked as its own in owner_buf
            for seed, offset in zip(seeds, range(0, num, BLOCK_SIZE)):
                size = min(BLOCK_SIZE, num - offset)
                tasks.append((i, seed, pos, size))
                pos += size
                if pos >= fill:
                    owner_buf[run:pos].fill_(i)
                    yield from flush(final=False)
                    run = pos
            owner_buf[run:pos].fill_(i)
        if pos:
            yield from flush(final=True)

    def _draw_fills(
        self, xs: torch.Tensor, num_draws: int, batch_size: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(owner, noisy) fills holding every draw j = 0 … L−1 of every input exactly once, L·m in all, laid
        out input-major (so batches are filled across inputs). The draws are made for as many rows at once as
        :meth:`_fill_rows` allows (on CPU up to ~16 000 rows: one call for a digits group instead of one per
        batch); a family's draws are element-wise, so the values do not depend on it."""
        device, total = xs.device, xs.shape[0] * num_draws
        fill = self._fill_rows(batch_size, xs.shape[1:], device)
        for start in range(0, total, fill):
            end = min(start + fill, total)
            flat = torch.arange(start, end, device=device)
            owner = flat // num_draws
            first, last = start // num_draws, (end - 1) // num_draws  # the inputs these rows hold copies of
            yield owner, self.noise.perturb_draws_of(xs[first : last + 1], owner - first, flat % num_draws)

    # ------------------------------------------------------------------ counting
    def count(
        self,
        xs: torch.Tensor,
        num: int,
        phase: Phase,
        ids: Sequence[int],
        batch_size: int,
        progress: bool = False,
        start: int = 0,
    ) -> torch.Tensor:
        """Votes (m, num_classes) int64, on the device, of ``num`` random noisy copies per input.

        ``start`` (a multiple of :data:`BLOCK_SIZE`) continues each input's stream after its first
        ``start`` copies: counting [0, a) then [a, b) gives exactly the votes of [0, b) (sequential mode).
        """
        if start % BLOCK_SIZE:
            raise ValueError(f"start must be a multiple of BLOCK_SIZE={BLOCK_SIZE}, got {start}")
        xs = xs.to(device=self.device(), dtype=torch.float32)
        fills = self._random_fills(xs, num, phase, ids, batch_size, start)
        return self._count(fills, xs.shape[0], xs.shape[0] * num, batch_size, progress, ids)

    def count_draws(
        self, xs: torch.Tensor, batch_size: int, progress: bool = False, ids: Sequence[int] | None = None
    ) -> torch.Tensor:
        """Votes (m, num_classes) over every one of the family's L equally likely draws (exact); ``ids`` name
        the inputs in an error."""
        num_draws = self.noise.num_draws()
        if num_draws is None:
            raise TypeError(f"{type(self.noise).__name__} has no finite set of draws to enumerate")
        xs = xs.to(device=self.device(), dtype=torch.float32)
        fills = self._draw_fills(xs, num_draws, batch_size)
        return self._count(fills, xs.shape[0], xs.shape[0] * num_draws, batch_size, progress, ids)

    def _count(
        self,
        fills: Iterator[tuple[torch.Tensor, torch.Tensor]],
        m: int,
        rows: int,
        batch_size: int,
        progress: bool,
        ids: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Votes of the model on every row of ``fills``, in batches of ``batch_size`` rows.

        Each batch's predicted classes are written into a buffer of the fill's rows (``argmax(out=…)``), and
        the fill's votes are added at once (``index_add_``): after a forward pass every small op runs cold,
        ~30 µs each on the digits CNN, so three per batch (offset, add, count) cost 0.5 % of its forward pass.

        A broken model (NaN weights, a diverged training run) returns NaN or inf logits, whose argmax is a
        vote like any other: each batch's row sums (float32, one reduction) go into a buffer beside the
        predictions, a fill's non-finite rows are counted per input with the votes, and any such row stops the
        count with one :class:`~rsmooth.errors.ModelOutputError` naming the input (``ids``, else its position)
        — one host read per count, when the counts are done (the caller reads them back right after), never
        one per batch.
        """
        k = self.num_classes
        device = self.device()
        counts = torch.zeros(m * k, dtype=torch.int64, device=device)
        nonfinite = torch.zeros(m, dtype=torch.int64, device=device)
        ones = preds = torch.empty(0, dtype=torch.int64, device=device)
        sums = torch.empty(0, dtype=torch.float32, device=device)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            # counted in samples: the rate is samples/s and the ETA the time left in this count (selection or
            # estimation), which at large n is what a user waits on
            # disable=None: no bar when stderr is not a terminal (a log file would get every refresh)
            bar = tqdm(total=rows, desc="sampling", unit="sample", unit_scale=True, leave=False, disable=None)
        try:
            with self._evaluating(), torch.inference_mode():
                for owner, noisy in fills:
                    size = owner.shape[0]
                    if preds.shape[0] < size:
                        ones = torch.ones(size, dtype=torch.int64, device=device)
                        preds = torch.empty(size, dtype=torch.int64, device=device)
                        sums = torch.empty(size, dtype=torch.float32, device=device)
                    for row in range(0, size, batch_size):
                        end = min(row + batch_size, size)  # preds may be longer than this fill: never resize out
                        logits = self._logits(noisy[row:end])
                        torch.argmax(logits, dim=1, out=preds[row:end])
                        torch.sum(logits, dim=1, dtype=torch.float32, out=sums[row:end])  # NaN/inf if any logit is
                        if bar is not None:
                            bar.update(end - row)
                    # index_add_ (not bincount, which reads min and max): no host sync on CUDA
                    counts.index_add_(0, owner * k + preds[:size], ones[:size])
                    nonfinite.index_add_(0, owner, (~torch.isfinite(sums[:size])).to(torch.int64))
        finally:
            if bar is not None:
                bar.close()
        if bool(nonfinite.any()):
            where = int(torch.nonzero(nonfinite)[0])
            name = f"input id {ids[where]}" if ids is not None else f"input {where} of the batch"
            raise ModelOutputError(
                f"the base classifier returned NaN or inf logits on {int(nonfinite[where])} noisy copies of {name}; "
                "its weights or its input are broken (a diverged training run?), so nothing is certified"
            )
        return counts.view(m, k)

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[None]:
        """The base classifier in eval mode for the block; the modules that were in training mode are put back
        exactly as they were (a scan costs ~25 µs for ResNet-20's 60 modules, switching the whole tree to eval
        mode and back ~190 µs, which showed in its one-input CERTIFY)."""
        training = [module for module in self.base.modules() if module.training]
        if training:
            self.base.eval()
        try:
            yield
        finally:
            for module in training:
                module.training = True

    def check_outputs(self, x: torch.Tensor, name: str) -> None:
        """One forward pass on the clean input ``x`` (c, h, w), in eval mode: NaN or inf logits (NaN weights, a
        diverged training run) are refused with one :class:`~rsmooth.errors.ModelOutputError` naming ``name``,
        before a run opens its results file."""
        with self._evaluating(), torch.inference_mode():
            logits = self._logits(x.to(device=self.device(), dtype=torch.float32).unsqueeze(0))
        if not bool(torch.isfinite(logits).all()):
            raise ModelOutputError(
                f"the base classifier returned NaN or inf logits on {name}; its weights are broken (a diverged "
                "training run?), so nothing is certified"
            )

    def _logits(self, noisy: torch.Tensor) -> torch.Tensor:
        """The base classifier's logits (b, num_classes) on one batch. An exception of the network (a shape it
        cannot take, out of memory) propagates as it is, with a note naming the batch's shape."""
        if self.channels_last and noisy.ndim == 4:  # a layout change only: the same values
            noisy = noisy.contiguous(memory_format=torch.channels_last)
        try:
            with self._autocast(noisy.device):
                logits = self.base(noisy)
        except Exception as err:
            if hasattr(err, "add_note"):  # Python >= 3.11
                err.add_note(
                    f"rsmooth: raised by the base classifier on a batch of {noisy.shape[0]} noisy inputs "
                    f"of shape {tuple(noisy.shape[1:])}"
                )
            raise
        if logits.shape != (noisy.shape[0], self.num_classes):
            raise ValueError(
                f"base classifier returned shape {tuple(logits.shape)} for a batch of {noisy.shape[0]}, "
                f"expected ({noisy.shape[0]}, {self.num_classes})"
            )
        return logits

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager[None]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.autocast_dtype)
