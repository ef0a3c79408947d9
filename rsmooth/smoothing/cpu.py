"""Opt-in tuning of a CPU process for certification: noise threads and glibc's allocator.

Importing rsmooth changes nothing in its host process. What the CPU engine can use is set up here, by
an explicit call: the entry points (``rsmooth-train``, ``rsmooth-certify``, …), which own their process,
call :func:`tune_process`; a script that owns its process may do the same; a library caller can hand
one :class:`NoiseThreads` to the ``Smooth`` objects it wants faster and close it when done.

**Noise threads.** A CERTIFY draws its noise in independently seeded blocks (``sampling.py``). On CPU the
caller alone draws them one after another unless helper threads draw beside it: a :class:`NoiseThreads`
holds ``workers`` − 1 helpers, each running torch ops on one OpenMP thread of its own (every thread that
calls a large element-wise op otherwise opens an OpenMP team of ``torch.get_num_threads()``, and a helper
on a 2-core machine added a team of two to the caller's). Before the helpers draw, the caller's idle
OpenMP threads are released (:func:`release_openmp_threads`): after a forward pass libgomp's workers spin
for a few milliseconds waiting for the next parallel region, and on a machine with as many cores as
threads they held the very cores the helpers needed (measured on 2 cores, one linear layer at digits
shape, the engine's cost per sample beyond the forward pass: 0.50–0.62 µs spinning, 0.38–0.46 µs
released). The values drawn never depend on the threads.

**Allocator.** torch takes CPU tensors from the C library's ``malloc``. glibc serves a large request
(above ``M_MMAP_THRESHOLD``: 128 KiB, raised on the fly up to the largest block freed, at most 32 MiB)
with a fresh ``mmap``, and hands freed memory at the top of the heap back to the kernel once it exceeds
``M_TRIM_THRESHOLD``. A network's activations are allocated and freed every batch, so every batch lands
on new pages, and the kernel zero-fills each 4 KiB page at its first touch. Measured on a 2-core machine
(2026-11-30, torch 2.14.1, glibc 2.36), per forward pass at batch 1 000:

==========================  ==============================  ==============================
network                     glibc's defaults                 :func:`keep_freed_memory`
==========================  ==============================  ==============================
digits CNN, 1×8×8           10 812 page faults, 23.5 ms      0 faults, 10.9 ms
ResNet-20, 3×32×32          257 616 page faults, 550–780 ms  3 200 faults, 355–362 ms
==========================  ==============================  ==============================

:func:`keep_freed_memory` turns ``mmap`` off for allocations (``M_MMAP_MAX`` = 0: every block comes from
the heap, whatever its size; ResNet-20's activations at batch 1 000 are 64 MiB, above the largest mmap
threshold glibc accepts) and sets ``M_TRIM_THRESHOLD`` to 1 GiB (up to that much freed memory stays with
the process for the next batch). The cost: the process's resident memory stays near its peak. Other C
libraries (macOS, musl) are left alone; numerics never change, only where the bytes live.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

#: ``mallopt`` parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 2**30
#: set to 0 to keep glibc's defaults even where an entry point would tune the process
ENV_SWITCH = "RSMOOTH_KEEP_FREED_MEMORY"
#: ``omp_pause_soft`` (OpenMP 5.0 §3.2.43): release the threads, keep what can be rebuilt
OMP_PAUSE_SOFT = 1


def keep_freed_memory() -> bool:
    """Tune glibc's ``malloc`` as described above (process-wide, for every later allocation); True when both
    settings were accepted, False on another C library or when ``RSMOOTH_KEEP_FREED_MEMORY=0``."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present in glibc only
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mmap_set = mallopt(M_MMAP_MAX, 0)
    trim_set = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return bool(mmap_set and trim_set)


def _loaded_libgomp() -> Callable[[int], int] | None:
    """``omp_pause_resource_all`` of the libgomp this process has loaded (torch's), or None: another OpenMP
    runtime, none loaded, or a platform without ``/proc/self/maps``. Never loads a library itself."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "libgomp" in line and line.rstrip().endswith(".so.1")}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # the copy already mapped, or an error
            pause = lib.omp_pause_resource_all
        except (OSError, AttributeError):
            continue
        pause.argtypes, pause.restype = [ctypes.c_int], ctypes.c_int
        return pause
    return None


_PAUSE: list[Callable[[int], int] | None] = []  # looked up once per process, on first use


def release_openmp_threads() -> bool:
    """Let the calling thread's idle OpenMP workers exit (``omp_pause_resource_all(omp_pause_soft)``): they
    stop spinning now and are started again by the next parallel region. Affects this thread's OpenMP pool
    only; a no-op (False) where torch's OpenMP runtime is not libgomp."""
    if not _PAUSE:
        _PAUSE.append(_loaded_libgomp())
    pause = _PAUSE[0]
    return pause is not None and pause(OMP_PAUSE_SOFT) == 0


@contextlib.contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Run the block with this thread's torch thread count at 1, then put its count back.

    The caller draws its share of the blocks while the helpers draw theirs, already one per core. With its
    own count left at 2, each of its large element-wise ops opened an OpenMP team whose second thread waited
    for a core a helper held, and the whole op waited with it: on digits, 2 cores, the draw took 0.30
    against 0.19 µs per sample for exponential_linf, 0.36 against 0.35 for mixed_linf
    (experiments/benchmarks/README.md). The count stored for threads started later is 1 meanwhile, and is
    put back too.
    """
    count = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(count)


class NoiseThreads:
    """Helper threads that draw noise blocks beside the calling thread on CPU: ``workers`` − 1 of them, or,
    by default, one fewer than ``torch.get_num_threads()`` at each draw (so the draw follows a thread count
    set later, e.g. one per process under DDP on CPU). Give it to ``Smooth(..., noise_threads=...)``, or
    install it for the whole process with :func:`tune_process`; :meth:`close` (or a ``with`` block) stops the
    helpers, which start again on the next draw.

    Each helper runs torch ops on one OpenMP thread of its own. ``torch.set_num_threads`` is per thread for
    OpenMP, but it also stores the count that threads started later begin with: the caller's own count is
    put back once every helper has set its one.
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and int(workers) < 1:
            raise ValueError(f"NoiseThreads needs workers >= 1, got {workers}")
        self._fixed = None if workers is None else int(workers)
        self._pool: ThreadPoolExecutor | None = None
        self._helpers = 0

    @property
    def workers(self) -> int:
        """Threads that draw: the caller and the helpers."""
        return self._fixed if self._fixed is not None else max(1, torch.get_num_threads())

    def _helper_pool(self, helpers: int) -> ThreadPoolExecutor:
        """A pool of ``helpers`` threads, each set to one OpenMP thread, made anew when the number changes."""
        if self._pool is None or self._helpers != helpers:
            self.close()
            count = torch.get_num_threads()
            pool = ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="rsmooth-noise")
            everyone = threading.Barrier(helpers)  # each helper takes exactly one of the set-up tasks

            def one_thread() -> None:
                torch.get_num_threads()  # torch sets a thread's count from the stored one on its first call
                torch.set_num_threads(1)
                everyone.wait()

            for future in [pool.submit(one_thread) for _ in range(helpers)]:
                future.result()
            torch.set_num_threads(count)  # the caller's count, also for threads started from now on
            self._pool, self._helpers = pool, helpers
        return self._pool

    def run(self, parts: Sequence[Callable[[], Any]]) -> None:
        """Run ``parts[0]`` on the calling thread (on one OpenMP thread) and each other part on a helper, after
        releasing the caller's idle OpenMP workers; re-raises the first exception of any part, once every part
        is done."""
        if len(parts) < 2:
            for part in parts:
                part()
            return
        pool = self._helper_pool(len(parts) - 1)
        release_openmp_threads()
        futures: list[Future[Any]] = [pool.submit(part) for part in parts[1:]]
        error: BaseException | None = None
        try:
            with one_openmp_thread():  # this thread draws its share too, beside the helpers, not over them
                parts[0]()
        except BaseException as err:
            error = err
        for future in futures:
            failure = future.exception()  # waits for the part
            error = error or failure
        if error is not None:
            raise error

    def close(self) -> None:
        """Stop the helpers (their idle threads exit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool, self._helpers = None, 0

    def __enter__(self) -> NoiseThreads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_PROCESS_THREADS: list[NoiseThreads] = []  # installed by tune_process; empty in a library's host


def process_noise_threads() -> NoiseThreads | None:
    """The :class:`NoiseThreads` :func:`tune_process` installed for this process, or None."""
    return _PROCESS_THREADS[0] if _PROCESS_THREADS else None


def tune_process(noise_threads: bool = True, allocator: bool = True) -> dict[str, bool]:
    """Tune this process for CPU certification: a :class:`NoiseThreads` every ``Smooth`` without its own
    uses (one worker per torch thread), and glibc's allocator keeping freed memory (:func:`keep_freed_memory`).
    For code that owns its process (the entry points call it); returns what was applied."""
    applied = {"noise_threads": False, "keep_freed_memory": False}
    if noise_threads and not _PROCESS_THREADS:
        _PROCESS_THREADS.append(NoiseThreads())
    applied["noise_threads"] = bool(_PROCESS_THREADS)
    if allocator:
        applied["keep_freed_memory"] = keep_freed_memory()
    return applied
