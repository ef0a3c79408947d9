"""Functional-certificate tables of the ℓ2 power family: cost, tightness, and the two estimators (docs/design.md §3.4).

Prints, for each (d, k): the table's build time and a lookup's time; the sampler's time for 10⁴ noise vectors;
and at p ∈ {0.6, 0.9, 0.99, 0.999, 0.9999} the exact radius (σΦ⁻¹(p) at k = 0, quadrature otherwise), the
Neyman–Pearson table's radius (the certificate, at N and at the dual's N) and the Hoeffding-bounded dual's
(Zhang et al. §4.1: a λ-grid × the same radius grid, union-bounded at the same α_D) as fractions of it.

    python experiments/benchmarks/functional_tables.py --dims 64 3072 --samples 10000000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rsmooth.certificates import cohen_radius
from rsmooth.certificates.functional import TableSettings, build_table, dual_certified
from rsmooth.certificates.quadrature import PowerL2Quadrature
from rsmooth.noise import PowerL2Noise

P_VALUES = (0.6, 0.9, 0.99, 0.999, 0.9999)


def dual_radius(family: PowerL2Noise, dim: int, p: float, settings: TableSettings, lambdas: np.ndarray) -> float:
    """Largest grid radius whose Hoeffding dual value exceeds 1/2 (bisection: the dual decreases in r)."""
    radii = settings.radii(family.scale(dim))
    level = settings.alpha / (len(lambdas) * len(radii))
    stats = family.shift_statistics(dim, settings.num_samples, np.random.default_rng([settings.seed, 3]))
    ok = lambda j: dual_certified(family.log_ratio(stats, radii[j : j + 1], dim)[:, 0].numpy(), p, lambdas, level) > 0.5  # noqa: E731
    lo, hi = -1, len(radii)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return float(radii[lo]) if lo >= 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 3072])
    parser.add_argument("--samples", type=int, default=10**7)
    parser.add_argument("--sigma", type=float, default=0.25)
    parser.add_argument("--dual-samples", type=int, default=10**6, help="N for the dual comparison (0: skip)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()
    results = []
    for dim in args.dims:
        for k in (0.0, round(dim / 6)):
            family = PowerL2Noise(args.sigma, k)
            shape = (10_000, dim)
            start = time.perf_counter()
            family.perturb(torch.zeros(shape), torch.Generator().manual_seed(0))
            sample_s = time.perf_counter() - start
            settings = TableSettings(num_samples=args.samples)
            table = build_table(family, dim, settings)
            start = time.perf_counter()
            for p in np.linspace(0.55, 0.9999, 1000):
                table.radius(float(p))
            lookup_ms = time.perf_counter() - start  # 1000 lookups: seconds = ms per lookup
            oracle = PowerL2Quadrature(args.sigma, k, dim)
            lambdas = np.geomspace(1e-2, 1e5, 120)
            dual_settings = TableSettings(num_samples=args.dual_samples) if args.dual_samples else None
            # the two estimators compared at equal N (the dual's λ loop makes N = 10⁷ slow)
            same_n = build_table(family, dim, dual_settings) if dual_settings is not None else None
            row = {
                "dim": dim,
                "k": k,
                "num_samples": args.samples,
                "build_s": round(table.build_seconds, 2),
                "lookup_ms": round(lookup_ms, 4),
                "sample_1e4_s": round(sample_s, 3),
                "radii": len(table.radii),
                "decreasing_steps": table.checks["decreasing_steps"],
                "ratios": {},
            }
            for p in P_VALUES:
                exact = cohen_radius(p, 1 - p, args.sigma) if k == 0 else oracle.radius(p)
                entry = {"exact": round(exact, 5), "np": round(table.radius(p) / exact, 4)}
                if dual_settings is not None:
                    entry["np_at_dual_n"] = round(same_n.radius(p) / exact, 4)  # type: ignore[union-attr]
                    entry["dual"] = round(dual_radius(family, dim, p, dual_settings, lambdas) / exact, 4)
                row["ratios"][str(p)] = entry
            print(json.dumps(row), flush=True)
            results.append(row)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
