"""Sequential vs fixed-n CERTIFY at equal α and budget: samples per input and certified accuracy.

Two parts, printed as tables and written as JSON:

* a trained checkpoint on its test split (``--checkpoint``): ``rsmooth-certify`` in both modes with the
  same seed, n0, α and n = n_max. Results files are named by mode and σ in ``--out`` and resume, so a
  fixed-n file made earlier with the same settings is reused, not recomputed;
* the coverage classifiers: a half-space whose smoothed probability p is known (true radius σΦ⁻¹(p)),
  at several p, for the samples each mode spends;
* what any stopping rule could save on the checkpoint's inputs (:func:`oracle_part`): an oracle that knows each
  input's p_A (taken as the fixed-n rate) and stops each at the fewest samples whose Clopper–Pearson radius keeps
  the average certified radius (ACR) within a tolerance of fixed n's, or keeps every input in its grid cell.

    python experiments/benchmarks/sequential_vs_fixed.py --checkpoint outputs/train/<run>/checkpoints/final.ckpt \\
        --sigma 0.25 --n 100000 --skip 4 --out results/sequential
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from scipy.stats import norm

from rsmooth.analysis.curves import certified_accuracy, load_rows
from rsmooth.certificates.bounds import clopper_pearson_lower
from rsmooth.cli.certify import certify
from rsmooth.cli.config import compose
from rsmooth.noise import GaussianNoise
from rsmooth.smoothing import Smooth
from rsmooth.smoothing.sequential import SampleSchedule


def checkpoint_part(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for mode in ("fixed", "sequential"):
        tsv = Path(args.out) / f"{mode}_sigma{args.sigma:g}.tsv"
        overrides = [
            f"checkpoint={args.checkpoint}",
            "noise=gaussian",
            f"noise.sigma={args.sigma}",
            f"output={tsv}",
            f"paths.output_dir={Path(args.out) / (tsv.stem + '_summary')}",
            f"certification.n={args.n}",
            f"certification.n0={args.n0}",
            f"certification.alpha={args.alpha}",
            f"certification.skip={args.skip}",
            f"certification.mode={mode}",
            f"certification.radii=[{','.join(str(r) for r in args.radii)}]",
            "certification.progress=false",
            f"certification.sequential.futility={args.futility}",
        ]
        certify(compose("certify", overrides))
        rows = load_rows(tsv)
        out[mode] = {
            "examples": len(rows),
            "samples_per_input": args.n0 + sum(r.n for r in rows) / len(rows),
            "certified_accuracy": dict(zip(map(str, args.radii), certified_accuracy(rows, args.radii))),
            "acr": sum(r.radius for r in rows if r.correct) / len(rows),
            "seconds_per_input": sum(r.time for r in rows) / len(rows),
        }
    return out


def oracle_part(tsv: Path, sigma: float, alpha: float, n_max: int, step: float) -> dict[str, float]:
    """The fewest mean samples per input that an oracle knowing each p_A (the fixed-n rate n_A/n) needs to keep
    ACR within 2 % / 5 % of fixed n's (samples priced by one Lagrange multiplier, each input's radius at n the
    Clopper–Pearson radius of n_A = ⌊p_A·n⌋), and to keep every input in the radius cell of width ``step`` that
    fixed n gives it (certified accuracy on that grid unchanged). A rule that reads only its samples' counts
    does no better than the oracle that knows p_A; the ratio n_max / that is the most any can save."""
    rows = load_rows(tsv)
    grid = np.unique(np.geomspace(256, n_max, 60).astype(int))
    rates = [min(r.count / r.n, 1.0 - 0.5 / r.n) for r in rows if r.correct]

    def radius(p: float, n: int) -> float:
        lower = clopper_pearson_lower(math.floor(p * n), n, alpha)
        return sigma * float(norm.ppf(lower)) if lower > 0.5 else 0.0

    table = np.array([[radius(p, int(n)) for n in grid] for p in rates])  # (correct inputs, grid)
    full, total, floor = table[:, -1], table[:, -1].sum(), 256 * (len(rows) - len(rates))
    out: dict[str, float] = {"acr_fixed": float(total / len(rows))}
    for tol in (0.02, 0.05):
        lo, hi = 1e-12, 1.0  # the price per sample: larger prices stop earlier and lose more radius
        for _ in range(100):
            price = math.sqrt(lo * hi)
            pick = np.argmax(table - price * grid[None, :], axis=1)
            lost = float((full - table[np.arange(len(rates)), pick]).sum())
            lo, hi = (price, hi) if lost <= tol * total else (lo, price)
        pick = np.argmax(table - lo * grid[None, :], axis=1)
        out[f"fewer_acr_within_{tol:g}"] = float(n_max / ((grid[pick].sum() + floor) / len(rows)))
    cells = np.floor(table / step + 1e-12)
    need = np.array([grid[np.argmax(c >= c[-1])] for c in cells])
    out["fewer_same_cells"] = float(n_max / ((need.sum() + floor) / len(rows)))
    return out


def coverage_part(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Half-space classifiers of known p (64 inputs each): samples per input, mean radius and the share
    certified at each radius, in each mode; no radius may exceed the true one beyond the α rate."""
    out: dict[str, dict[str, object]] = {}
    sigma = args.sigma
    for p in (0.6, 0.9, 0.99, 0.999):
        margin = sigma * float(norm.ppf(p))
        smooth = Smooth(LinearHalfSpace(margin), GaussianNoise(sigma), 2, seed=0)
        xs = torch.zeros(64, 1, 4, 4)
        schedule = SampleSchedule.geometric(args.n, futility=args.futility)
        runs = {
            "fixed": smooth.certify_many(xs, args.n0, args.n, args.alpha, 4096),
            "sequential": smooth.certify_many(
                xs, args.n0, args.n, args.alpha, 4096, mode="sequential", radii=args.radii, schedule=schedule
            ),
        }
        entry: dict[str, object] = {"true_radius": margin}
        for mode, rs in runs.items():
            entry[mode] = {
                "samples_per_input": args.n0 + sum(r.n for r in rs) / len(rs),
                "mean_radius": sum(r.radius for r in rs) / len(rs),
                "over_claims": sum(r.radius > margin for r in rs),
                "certified": {
                    str(t): sum(r.prediction == 1 and r.radius >= t for r in rs) / len(rs) for t in args.radii
                },
            }
        out[str(p)] = entry
    return out


class LinearHalfSpace(torch.nn.Module):
    """Class 1 iff Σx/4 + margin > 0 on 16 pixels (‖w‖ = 1): at x = 0 the smoothed p is Φ(margin/σ)."""

    def __init__(self, margin: float) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.flatten(1).sum(1) / 4 + self.margin
        return torch.stack([torch.zeros_like(s), s], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="an rsmooth checkpoint (omit for the coverage classifiers only)")
    ap.add_argument("--sigma", type=float, default=0.25)
    ap.add_argument("--n", type=int, default=100_000, help="fixed n = sequential budget n_max")
    ap.add_argument("--n0", type=int, default=100)
    ap.add_argument("--alpha", type=float, default=0.001)
    ap.add_argument("--skip", type=int, default=1)
    ap.add_argument("--futility", type=float, default=0.05, help="sequential: level of the out-of-reach test")
    ap.add_argument("--radii", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75])
    ap.add_argument("--out", default="results/sequential")
    args = ap.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    report: dict[str, object] = {"sigma": args.sigma, "n": args.n, "alpha": args.alpha}
    if args.checkpoint:
        model = report["checkpoint"] = checkpoint_part(args)
        print(f"\ncheckpoint, sigma={args.sigma:g}, n_max={args.n}, alpha={args.alpha}")
        print("| mode | inputs | samples/input | " + " | ".join(f"r={r:g}" for r in args.radii) + " | s/input |")
        print("|---" * (len(args.radii) + 4) + "|")
        for mode, m in model.items():
            accs = " | ".join(f"{a:.3f}" for a in m["certified_accuracy"].values())  # type: ignore[union-attr]
            print(
                f"| {mode} | {m['examples']} | {m['samples_per_input']:.0f} | {accs} | {m['seconds_per_input']:.3f} |"
            )
        ratio = model["fixed"]["samples_per_input"] / model["sequential"]["samples_per_input"]  # type: ignore[operator]
        acr = model["sequential"]["acr"] / model["fixed"]["acr"]  # type: ignore[operator]
        print(f"sequential uses {ratio:.1f}x fewer samples per input; ACR {acr:.3f}x fixed n's")
        step = min(b - a for a, b in zip(args.radii, args.radii[1:])) if len(args.radii) > 1 else 0.125
        oracle = report["oracle"] = oracle_part(
            Path(args.out) / f"fixed_sigma{args.sigma:g}.tsv", args.sigma, args.alpha, args.n, step
        )
        print(
            f"an oracle knowing p_A: {oracle['fewer_acr_within_0.02']:.1f}x fewer with ACR within 2 %, "
            f"{oracle['fewer_acr_within_0.05']:.1f}x within 5 %, {oracle['fewer_same_cells']:.1f}x keeping every "
            f"input in its {step:g}-wide radius cell"
        )
    report["coverage_classifiers"] = cov = coverage_part(args)
    print(f"\nhalf-space classifiers, sigma={args.sigma:g}, 64 inputs each: samples per input, certified share")
    print(
        "| p | true radius | mode | samples/input | mean radius | over-claims | "
        + " | ".join(f"r={r:g}" for r in args.radii)
        + " |"
    )
    print("|---" * (len(args.radii) + 6) + "|")
    for p, c in cov.items():
        for mode in ("fixed", "sequential"):
            m = c[mode]
            accs = " | ".join(f"{a:.3f}" for a in m["certified"].values())  # type: ignore[index]
            print(
                f"| {p} | {c['true_radius']:.3f} | {mode} | {m['samples_per_input']:.0f} | "  # type: ignore[index]
                f"{m['mean_radius']:.3f} | {m['over_claims']} | {accs} |"
            )  # type: ignore[index]
    path = Path(args.out) / f"sequential_vs_fixed_sigma{args.sigma:g}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
