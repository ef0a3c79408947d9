"""Certification speed against the forward pass and against the peers.

Every figure comes from one run, the implementations alternating within each of ``--repeats`` rounds; a
ratio is the median over rounds of the two rates measured in the same round, so a drift of the machine's
speed between rounds cancels out of it. Sections (``--sections``):

* ``throughput``: for each model and noise family, CERTIFY's samples/s (rsmooth ``certify_many`` on a group
  of inputs, n0 + n samples each; DSSN: its L draws) as a ratio to the forward-only floor (the model and
  argmax on pre-made noisy batches of the same size and make-up: copies of each input of the group, or
  DSSN's draws of the group). For Gaussian noise also a reference-style loop
  (Cohen et al.'s CERTIFY in this project's words: ``x.repeat``, ``randn_like``, per-batch ``.cpu()`` and a
  Python count) and ART's ``PyTorchRandomizedSmoothing.certify`` (``pip install -e '.[bench]'``), both one
  input at a time, compared with rsmooth certifying that one input (``rsmooth_single``: the same batches).
* ``overhead``: the same three CERTIFYs on a near-free model (one linear layer, digits shape): µs per
  sample beyond the forward pass, measured in fresh processes (``--overhead-processes`` of each kind): with
  ``torch`` imported before rsmooth (what a user's script does) and with rsmooth first. rsmooth changes nothing
  when it is imported, so the two must agree; ``rsmooth_caller_only`` is the engine without noise threads (a
  library caller that did not tune its process).
* ``grouping``: 64 digits images at n0 = 16, n = 128: one input per call vs batches filled across inputs
  (``group_size: auto``); the results must be identical.
* ``dssn``: evaluations per image (must be L) and seconds per image, one input per call (the old default)
  vs filled batches, and uniform noise at the same σ (n0 + n samples) for comparison.
* ``tables``: build and lookup time of the functional certificates (power_l2, mixed_linf) at each model's d.

    python experiments/benchmarks/certify_throughput.py --out bench.json
    python experiments/benchmarks/certify_throughput.py --models resnet110 --device cuda --batch-size 400 \\
        --precision bf16 --channels-last --sections throughput
"""

from __future__ import annotations

import sys

if "--import-first" in sys.argv and sys.argv[sys.argv.index("--import-first") + 1] == "rsmooth":
    import rsmooth.smoothing  # noqa: F401  # rsmooth's engine before torch (it loads torch itself)

import argparse
import itertools
import json
import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from scipy.stats import beta, norm
from torch import nn

from rsmooth.certificates.base import VoteCounts
from rsmooth.cli.config import compose
from rsmooth.models import build_classifier
from rsmooth.noise import DeterministicSplittingNoise, GaussianNoise, NoiseFamily, UniformL1Noise
from rsmooth.smoothing import CertificationSettings, Smooth
from rsmooth.smoothing.cpu import NoiseThreads, tune_process
from rsmooth.smoothing.loop import auto_group_size, group_size
from rsmooth.smoothing.sampling import Phase, VoteCounter

SHAPES = {
    "digits_cnn": (1, 8, 8),
    "resnet20": (3, 32, 32),
    "resnet110": (3, 32, 32),
    "wrn_40_2": (3, 32, 32),
    "resnet50": (3, 224, 224),
}
FAMILIES = ("gaussian", "uniform_l1", "ssn", "dssn", "exponential_linf", "power_l2", "mixed_linf", "linf_power")
SIGMA = 0.25
#: seconds each implementation runs per round at least (in turns of one unit: a CERTIFY call, or the same samples)
MIN_SECONDS = 0.5
COMPILE = False  # --compile


# ---------------------------------------------------------------------------------------------- set-up
def machine_and_commit() -> dict[str, str]:
    """What a benchmark record carries besides its date: the CPU model, core count and the commit measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                cwd=os.path.dirname(os.path.abspath(__file__)),
            ).stdout.strip()
            or "unknown"
        )
    except OSError:
        commit = "unknown"
    return {"cpu": f"{cpu}, {os.cpu_count()} cores", "commit": commit}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def build_model(name: str, device: torch.device, channels_last: bool) -> nn.Module:
    """A randomly initialised network of the zoo (speed does not depend on the weights), or ``linear``."""
    if name == "linear":
        model: nn.Module = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    else:
        shape = SHAPES[name]
        factory = instantiate(compose("train", [f"model={name}"]).model)
        model = build_classifier(factory, 10, shape, [0.5] * shape[0], [0.25] * shape[0])
    model = model.to(device).eval()
    if channels_last and name != "linear":
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if COMPILE else model  # type: ignore[return-value]


def inputs(shape: tuple[int, ...], count: int, q: int) -> torch.Tensor:
    """Real digits test images for (1, 8, 8) (q = 16); otherwise q-quantized random images."""
    if shape == (1, 8, 8):
        from sklearn.datasets import load_digits

        images = load_digits().images[-count:] / 16.0
        return torch.tensor(images, dtype=torch.float32).unsqueeze(1)
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, q + 1, (count, *shape), generator=gen).float() / q


def family(name: str, q: int) -> NoiseFamily:
    """The family as its conf/noise YAML builds it (σ = 0.25; DSSN σ = 0.5 at the data's q)."""
    overrides = [f"noise={name}"] + ([f"noise.q={q}"] if name == "dssn" else [f"noise.sigma={SIGMA}"])
    return instantiate(compose("train", overrides).noise)  # type: ignore[no-any-return]


def measure_rounds(
    units: dict[str, Callable[[], int]], repeats: int, device: torch.device, min_seconds: float | None = None
) -> dict[str, list[float]]:
    """Each implementation's rate in each of ``repeats`` rounds. A unit is one call (a CERTIFY, or the
    forward passes of as many samples) that returns how many samples or images it did. Within a round the
    implementations take turns, one unit each, until each has run ``min_seconds`` (one that has stops
    taking turns), the order reversed every other round; a rate is the round's units over their time. So
    a change of the machine's speed that outlasts a unit slows the implementations compared alike."""
    min_seconds = MIN_SECONDS if min_seconds is None else min_seconds

    def timed(unit: Callable[[], int]) -> tuple[int, float]:
        sync(device)
        start = time.perf_counter()
        done = unit()
        sync(device)
        return done, time.perf_counter() - start

    for unit in units.values():  # warm-up
        unit()
    rates: dict[str, list[float]] = {k: [] for k in units}
    for r in range(repeats):
        order = list(units) if r % 2 == 0 else list(reversed(units))  # neither goes first every time
        done = dict.fromkeys(units, 0)
        spent = dict.fromkeys(units, 0.0)
        while min(spent.values()) < min_seconds:
            for name in order:
                if spent[name] < min_seconds:
                    count, seconds = timed(units[name])
                    done[name] += count
                    spent[name] += seconds
        for name in units:
            rates[name].append(done[name] / spent[name])
    return rates


def median_rates(units: dict[str, Callable[[], int]], repeats: int, device: torch.device) -> dict[str, float]:
    """Median of each implementation's rate over ``repeats`` rounds (:func:`measure_rounds`)."""
    return {k: statistics.median(v) for k, v in measure_rounds(units, repeats, device).items()}


def paired_ratio(rounds: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of rate(a)/rate(b) measured in the same round: a drift of the machine's speed
    between rounds (these machines are noisy) cancels out of each ratio."""
    return statistics.median(x / y for x, y in zip(rounds[a], rounds[b], strict=True))


def floor_batches(noise: NoiseFamily, group: torch.Tensor, batch: int, n0: int, n: int) -> list[torch.Tensor]:
    """The very noisy batches CERTIFY hands the model for ``group`` (copies, values and order): an exact
    family's L draws of every input; otherwise the selection phase's n0 copies of each input, then the
    estimation phase's n, filled across inputs, as the engine draws them (inputs seeded by ids 0 … m−1, as
    ``certify_many`` does). The make-up matters on CPU: the digits CNN runs ~10 % faster on copies of one
    image than on a batch mixing 37 images (its max-pool branches predict better), so the floor runs the
    same data, and whatever the network's speed depends on cancels out of the ratio."""
    counter = VoteCounter(nn.Identity(), noise, 10)
    if noise.num_draws() is not None:
        fills = counter._draw_fills(group, noise.num_draws(), batch)  # type: ignore[arg-type]
    else:
        ids = list(range(len(group)))
        fills = itertools.chain.from_iterable(
            counter._random_fills(group, num, phase, ids, batch)
            for phase, num in ((Phase.SELECTION, n0), (Phase.ESTIMATION, n))
        )
    batches: list[torch.Tensor] = []
    for _, noisy in fills:  # each fill's batches, cloned before the next fill reuses the engine's buffer
        batches += [noisy[row : row + batch].clone() for row in range(0, noisy.shape[0], batch)]
    return batches


def forward_only(
    model: nn.Module, batches: list[torch.Tensor], samples: int, autocast: torch.dtype | None
) -> Callable[[], int]:
    """A unit of the physical floor: the model + argmax on pre-made noisy batches, cycling through
    ``batches`` until ``samples`` samples are done (as many as the CERTIFY unit it is compared with)."""
    device = batches[0].device

    def run() -> int:
        done = step = 0
        with (
            torch.inference_mode(),
            torch.autocast(device.type, autocast or torch.float32, enabled=autocast is not None),
        ):
            while done < samples:
                batch = batches[step % len(batches)]
                model(batch).argmax(1)
                done, step = done + batch.shape[0], step + 1
        return done

    return run


def reference_certify(
    model: nn.Module,
    x: torch.Tensor,
    sigma: float,
    n0: int,
    n: int,
    alpha: float,
    batch_size: int,
    num_classes: int = 10,
) -> tuple[int, float]:
    """Cohen et al.'s CERTIFY as their code does it, in this project's words: each batch repeats x, adds
    ``randn_like`` noise, moves the predictions to the host and counts them in a Python loop."""

    def sample(num: int) -> np.ndarray:
        counts = np.zeros(num_classes, dtype=int)
        with torch.no_grad():
            while num > 0:
                size = min(batch_size, num)
                num -= size
                batch = x.repeat((size, 1, 1, 1))
                noise = torch.randn_like(batch) * sigma
                for c in model(batch + noise).argmax(1).cpu().numpy():
                    counts[c] += 1
        return counts

    guess = int(sample(n0).argmax())
    n_a = int(sample(n)[guess])
    p_lower = float(beta.ppf(alpha, n_a, n - n_a + 1)) if n_a > 0 else 0.0
    return (guess, sigma * float(norm.ppf(p_lower))) if p_lower > 0.5 else (-1, 0.0)


def art_certifier(model: nn.Module, shape: tuple[int, ...], sigma: float, n0: int, alpha: float) -> Any | None:
    """ART's PyTorchRandomizedSmoothing on the same model, or None when ART is not installed."""
    try:
        from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing
    except ImportError:
        return None
    device_type = "gpu" if next(model.parameters()).is_cuda else "cpu"
    return PyTorchRandomizedSmoothing(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=shape,
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type=device_type,
        sample_size=n0,
        scale=sigma,
        alpha=alpha,
    )


# ---------------------------------------------------------------------------------------------- sections
def certify_rates(
    model: nn.Module,
    noise: NoiseFamily,
    xs: torch.Tensor,
    n0: int,
    n: int,
    batch: int,
    repeats: int,
    autocast: torch.dtype | None,
    channels_last: bool,
    peers: bool,
    caller_only: bool = False,
) -> dict[str, Any]:
    """samples/s of forward-only, rsmooth CERTIFY (and, for Gaussian noise, the reference loop and ART)."""
    device = xs.device
    smooth = Smooth(model, noise, 10, autocast_dtype=autocast, channels_last=channels_last)
    dim = int(xs[0].numel())
    table_seconds = smooth.prepare(dim)
    per_input = noise.num_draws() if smooth.exact else n0 + n
    group = xs[: group_size(smooth, CertificationSettings(n0=n0, n=n, batch_size=batch))]
    samples = len(group) * per_input
    noisy = floor_batches(noise, group, batch, n0, n)
    if channels_last:
        noisy = [b.contiguous(memory_format=torch.channels_last) for b in noisy]

    def rsmooth() -> int:
        smooth.certify_many(group, n0, n, 0.001, batch)
        return samples

    units: dict[str, Callable[[], int]] = {"forward": forward_only(model, noisy, samples, autocast), "rsmooth": rsmooth}
    if peers and isinstance(noise, GaussianNoise):
        # the peers certify one input at a time; so does this rsmooth call, with the very same batches
        # (n0, then n in batch_size pieces), so batch-size effects on the network cancel out
        def rsmooth_single() -> int:
            smooth.certify_many(xs[:1], n0, n, 0.001, batch)
            return n0 + n

        def reference() -> int:
            reference_certify(model, xs[0], noise.sigma, n0, n, 0.001, batch)
            return n0 + n

        units["rsmooth_single"], units["reference"] = rsmooth_single, reference
        if caller_only:  # the engine as a library caller gets it without tuning its process: no noise threads
            alone = Smooth(
                model, noise, 10, autocast_dtype=autocast, channels_last=channels_last, noise_threads=NoiseThreads(1)
            )

            def rsmooth_caller_only() -> int:
                alone.certify_many(xs[:1], n0, n, 0.001, batch)
                return n0 + n

            units["rsmooth_caller_only"] = rsmooth_caller_only
        art = art_certifier(model, tuple(xs.shape[1:]), noise.sigma, n0, 0.001)
        if art is not None:
            x0 = xs[:1].cpu().numpy()

            def art_unit() -> int:
                art.certify(x0, n=n, batch_size=batch)
                return n0 + n

            units["art"] = art_unit
    rounds = measure_rounds(units, repeats, device)
    rates = {k: statistics.median(v) for k, v in rounds.items()}
    out: dict[str, Any] = {
        "samples_per_s": rates,
        "group": len(group),
        "samples_per_input": per_input,
        "table_seconds": table_seconds,
        "rounds": rounds,
    }
    out["ratio_to_forward"] = {k: paired_ratio(rounds, k, "forward") for k in rates if k != "forward"}
    for peer in ("reference", "art"):
        if peer in rates:
            out[f"rsmooth_over_{peer}"] = paired_ratio(rounds, "rsmooth_single", peer)
    return out


def throughput(args: argparse.Namespace, device: torch.device, autocast: torch.dtype | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for model_name in args.models:
        shape = SHAPES[model_name]
        q = 16 if shape == (1, 8, 8) else 255
        model = build_model(model_name, device, args.channels_last)
        xs = inputs(shape, 160, q).to(device)  # enough for the largest group (DSSN on digits: 148)
        n = args.n if shape == (1, 8, 8) else args.n_large
        for name in args.families:
            noise = family(name, q)
            r = certify_rates(
                model, noise, xs, args.n0, n, args.batch_size, args.repeats, autocast, args.channels_last, peers=True
            )
            results[f"{model_name}/{name}"] = r
            line = "  ".join(f"{k} {v:.3f}" for k, v in r["ratio_to_forward"].items())
            print(
                f"{model_name:>10} {name:>16}: forward {r['samples_per_s']['forward']:>9,.0f}/s  "
                f"ratio to forward: {line}"
                + "".join(
                    f"  rsmooth_single/{p} {r[f'rsmooth_over_{p}']:.3f}"
                    for p in ("reference", "art")
                    if f"rsmooth_over_{p}" in r
                ),
                flush=True,
            )
    return results


def overhead(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """µs per sample beyond the forward pass, near-free model (one linear layer), digits shape, Gaussian; in
    this process (``--import-first`` says which was imported first)."""
    model = build_model("linear", device, False)
    xs = inputs((1, 8, 8), 64, 16).to(device)
    n = args.overhead_n
    r = certify_rates(
        model,
        GaussianNoise(SIGMA),
        xs,
        args.n0,
        n,
        args.batch_size,
        args.repeats,
        None,
        False,
        peers=True,
        caller_only=True,
    )
    fwd_us = 1e6 / r["samples_per_s"]["forward"]
    us = {k: 1e6 / v - fwd_us for k, v in r["samples_per_s"].items() if k != "forward"}
    out = {"import_first": args.import_first, "forward_us_per_sample": fwd_us, "overhead_us_per_sample": us}
    # one input each, the same batches; the ratio of overheads, median over rounds of the same round's rates
    rounds = r["rounds"]
    fwd = rounds["forward"]
    per_round = {k: [1e6 / x - 1e6 / f for x, f in zip(v, fwd)] for k, v in rounds.items() if k != "forward"}
    for name in ("rsmooth_single", "rsmooth_caller_only"):
        if name in per_round and "reference" in per_round:
            out[f"{name}_over_reference"] = statistics.median(
                a / b for a, b in zip(per_round[name], per_round["reference"])
            )
    print(
        f"engine overhead beyond the forward pass, {args.import_first} imported first (µs/sample; forward "
        f"{fwd_us:.3f}): "
        + "  ".join(f"{k} {v:.3f}" for k, v in us.items())
        + "".join(f"  {k} {v:.2f}" for k, v in out.items() if k.endswith("_over_reference")),
        flush=True,
    )
    return out


def overhead_both_orders(args: argparse.Namespace) -> dict[str, Any]:
    """The overhead section in fresh processes, ``--overhead-processes`` with torch imported first and as many
    with rsmooth imported first, alternating. Each order's figure is the median over its processes of their
    per-round median ratio: how fast a process draws in parallel varies from process to process on a shared
    machine (as pyperf spreads a benchmark over processes for the same reason)."""
    results: dict[str, Any] = {"torch_first": [], "rsmooth_first": []}
    for _ in range(args.overhead_processes):
        for first in ("torch", "rsmooth"):
            cmd = [
                sys.executable,
                __file__,
                "--sections",
                "overhead",
                "--import-first",
                first,
                "--device",
                args.device,
                "--repeats",
                str(args.repeats),
                "--min-seconds",
                str(args.min_seconds),
                "--n0",
                str(args.n0),
                "--overhead-n",
                str(args.overhead_n),
                "--batch-size",
                str(args.batch_size),
                "--out",
                "-",
            ]
            run = subprocess.run(cmd, capture_output=True, text=True, check=True)
            print(run.stdout.strip().splitlines()[-2], flush=True)
            results[f"{first}_first"].append(json.loads(run.stdout.strip().splitlines()[-1])["overhead"])
    for first in ("torch", "rsmooth"):
        ratios = [p["rsmooth_single_over_reference"] for p in results[f"{first}_first"]]
        results[f"{first}_first_median_ratio"] = statistics.median(ratios)
        print(
            f"{first} imported first: rsmooth (1 input) / reference-style loop, engine overhead, median of "
            f"{len(ratios)} processes: {statistics.median(ratios):.2f} (each: "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + ")",
            flush=True,
        )
    return results


def grouping(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """64 digits images, n0 = 16, n = 128: one input per call vs filled batches; identical results."""
    model = build_model("digits_cnn", device, False)
    xs = inputs((1, 8, 8), 64, 16).to(device)
    smooth = Smooth(model, GaussianNoise(SIGMA), 10)
    n0, n, batch = 16, 128, args.batch_size
    group = auto_group_size(batch, n0)
    found: dict[str, list[Any]] = {}

    def one_at_a_time() -> int:
        found["single"] = [smooth.certify_many(xs[i : i + 1], n0, n, 0.001, batch, ids=[i])[0] for i in range(64)]
        return 64

    def filled() -> int:
        res = []
        for s in range(0, 64, group):
            res += smooth.certify_many(xs[s : s + group], n0, n, 0.001, batch, ids=list(range(s, min(s + group, 64))))
        found["grouped"] = res
        return 64

    rates = median_rates({"one_at_a_time": one_at_a_time, "filled": filled}, args.repeats, device)
    identical = found["single"] == found["grouped"]
    out = {
        "images_per_s": rates,
        "group": group,
        "speedup": rates["filled"] / rates["one_at_a_time"],
        "identical_results": identical,
    }
    print(
        f"grouping (64 digits, n0=16, n=128, batch {batch}): one at a time {rates['one_at_a_time']:.1f} img/s, "
        f"filled (group {group}) {rates['filled']:.1f} img/s, speed-up {out['speedup']:.2f}, identical: {identical}"
    )
    return out


def dssn(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """DSSN: L evaluations per image, seconds per image one at a time vs filled batches; uniform at equal σ."""
    results: dict[str, Any] = {}
    for model_name, q in (("digits_cnn", 16), ("resnet20", 255)):
        shape = SHAPES[model_name]
        model = build_model(model_name, device, False)
        rows = [0]
        model.register_forward_pre_hook(lambda _m, a: rows.__setitem__(0, rows[0] + a[0].shape[0]))
        noise = DeterministicSplittingNoise(0.5, q)
        smooth = Smooth(model, noise, 10)
        count = group_size(smooth, CertificationSettings(batch_size=args.batch_size))
        xs = inputs(shape, max(count, 8), q).to(device)
        uniform = Smooth(model, UniformL1Noise(0.5), 10)
        n = args.n if shape == (1, 8, 8) else args.n_large
        m = xs.shape[0]

        def per_image(fn: Callable[[], object]) -> Callable[[], int]:
            def run() -> int:
                fn()
                return m  # images

            return run

        impls = {
            "dssn_one_at_a_time": per_image(
                lambda: [smooth.certify_many(xs[i : i + 1], 1, 1, 0.001, args.batch_size) for i in range(m)]
            ),
            "dssn_filled": per_image(
                lambda: [
                    smooth.certify_many(xs[s : s + count], 1, 1, 0.001, args.batch_size) for s in range(0, m, count)
                ]
            ),
            "uniform_n0_plus_n": per_image(
                lambda: [
                    uniform.certify_many(xs[s : s + 10], args.n0, n, 0.001, args.batch_size) for s in range(0, m, 10)
                ]
            ),
        }
        rows[0] = 0
        smooth.certify_many(xs[:1], 1, 1, 0.001, args.batch_size)
        evaluations = rows[0]
        rates = median_rates(impls, args.repeats, device)
        seconds = {k: 1.0 / v for k, v in rates.items()}
        results[model_name] = {
            "L": noise.L,
            "evaluations_per_image": evaluations,
            "seconds_per_image": seconds,
            "uniform_n": args.n0 + n,
            "group": count,
        }
        print(
            f"dssn {model_name} (q={q}, L={noise.L}): {evaluations} evaluations/image; s/img one at a time "
            f"{seconds['dssn_one_at_a_time']:.5f}, filled (group {count}) {seconds['dssn_filled']:.5f}; uniform "
            f"(n0+n={args.n0 + n}) {seconds['uniform_n0_plus_n']:.4f}"
        )
    return results


def tables(args: argparse.Namespace) -> dict[str, Any]:
    """Build and lookup time of the functional certificates at each model's d (default table settings)."""
    results: dict[str, Any] = {}
    for model_name in args.models:
        dim = math.prod(SHAPES[model_name])
        for name in ("power_l2", "mixed_linf"):
            noise = family(name, 255)
            cert = noise.default_certificate()
            start = time.perf_counter()
            cert.prepare(dim)
            build = time.perf_counter() - start
            votes = VoteCounts(guess=3, counts=(0, 0, 0, 9900, 100, 0, 0, 0, 0, 0))
            start = time.perf_counter()
            for _ in range(1000):
                cert.certify(votes, 0.001, dim)
            lookup_ms = time.perf_counter() - start
            results[f"{name}/d={dim}"] = {"build_s": build, "lookup_ms": lookup_ms}
            print(f"table {name} d={dim}: build {build:.1f} s, lookup {lookup_ms:.3f} ms")
    return results


def main() -> None:
    global COMPILE, MIN_SECONDS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sections",
        nargs="+",
        default=["overhead", "grouping", "dssn", "throughput", "tables"],
        choices=["throughput", "overhead", "grouping", "dssn", "tables"],
    )
    ap.add_argument("--models", nargs="+", default=["digits_cnn", "resnet20"], choices=sorted(SHAPES))
    ap.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--n0", type=int, default=100)
    ap.add_argument("--n", type=int, default=10_000, help="estimation samples per digits image")
    ap.add_argument("--n-large", type=int, default=900, help="estimation samples per 3x32x32 or larger image")
    ap.add_argument("--overhead-n", type=int, default=200_000)
    ap.add_argument("--overhead-processes", type=int, default=3, help="fresh processes per import order")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument(
        "--min-seconds",
        type=float,
        default=MIN_SECONDS,
        help="seconds each implementation runs per round, in turns of one unit",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", choices=["bf16", "fp16"], default=None, help="autocast for the network only")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile the network (as certification.compile)")
    ap.add_argument("--out", default=None, help="write the results as JSON here (-: as the last line of stdout)")
    ap.add_argument(
        "--import-first",
        choices=["torch", "rsmooth"],
        default=None,
        help="(the overhead section's own processes) which was imported first",
    )
    args = ap.parse_args()

    COMPILE, MIN_SECONDS = args.compile, args.min_seconds
    tuned = tune_process()  # this script owns its process: noise threads and the allocator, as the entry points
    device = torch.device(args.device)
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16, None: None}[args.precision]
    header = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "min_seconds": args.min_seconds,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "precision": args.precision,
        "channels_last": args.channels_last,
        "compile": args.compile,
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
        **tuned,
    }
    header.update(machine_and_commit())
    if device.type == "cuda":
        header["gpu"] = torch.cuda.get_device_name(device)
    print(" ".join(f"{k}={v}" for k, v in header.items()), flush=True)
    report: dict[str, Any] = {"setup": header}
    for section in args.sections:
        if section == "throughput":
            report[section] = throughput(args, device, autocast)
        elif section == "overhead":
            report[section] = overhead(args, device) if args.import_first else overhead_both_orders(args)
        elif section == "grouping":
            report[section] = grouping(args, device)
        elif section == "dssn":
            report[section] = dssn(args, device)
        else:
            report[section] = tables(args)
    if args.out == "-":
        print(json.dumps(report, default=str))
    elif args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, default=str)


if __name__ == "__main__":
    main()
