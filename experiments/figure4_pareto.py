"""Zhang et al. 2020, Figure 4: the accuracy–robustness trade-off of eq. (7) for the three ℓ∞ smoothing
families — ℓ2 power (eq. 8), mixed ℓ∞/ℓ2 (eq. 9), pure ℓ∞ (eq. 10) — searching (σ, k), with the ball
classifier f#(x) = 1{‖x‖₂ ≤ 0.65} in d = 5 (the paper's toy setting).

Left: each family's Pareto frontier of the accuracy term P_π0(‖z‖₂ ≤ 0.65) against the robustness term at
λ = 1 (total variation, as in the paper's Figure 3) for ‖δ‖∞ ≤ ε (ε = 0.1 by default: the paper gives neither
λ nor ε). Right: the value of eq. (7), max over λ, σ, k, against ε: the lower bound each family certifies for
f# at x0 + δ. Definitions: :mod:`rsmooth.analysis.pareto`.

    python experiments/figure4_pareto.py --out figure4        (about 7 minutes on 2 CPU cores)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from rsmooth.analysis.pareto import best_accuracy_within, pareto_frontier, tradeoff_points
from rsmooth.noise import LinfPowerNoise, MixedLinfNoise, PowerL2Noise

FAMILIES = (
    (PowerL2Noise, "ℓ2 power, eq. (8)"),
    (MixedLinfNoise, "mixed ℓ∞/ℓ2, eq. (9)"),
    (LinfPowerNoise, "pure ℓ∞, eq. (10)"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--ball", type=float, default=0.65, help="r0 of f#(x) = 1{‖x‖₂ ≤ r0}")
    parser.add_argument("--eps", type=float, default=0.1, help="ℓ∞ attack radius of the frontier panel")
    parser.add_argument("--eps-values", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    parser.add_argument("--samples", type=int, default=40_000, help="Monte Carlo draws per (family, σ, k)")
    parser.add_argument("--sigmas", type=int, default=30, help="σ values, log-spaced in [0.02, 1.5]")
    parser.add_argument("--ks", type=float, nargs="+", default=None, help="k values (default 0, 0.5, …, d − 0.5)")
    parser.add_argument("--out", default="figure4", help="output directory")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ks = args.ks if args.ks is not None else [float(k) for k in np.arange(0.0, args.dim, 0.5)]
    sigmas = np.geomspace(0.02, 1.5, args.sigmas)
    eps_values = sorted(set(args.eps_values) | {args.eps})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.5))
    summary = {"dim": args.dim, "ball": args.ball, "eps": args.eps, "samples": args.samples, "families": {}}
    for index, (family_class, label) in enumerate(FAMILIES):
        generator = torch.Generator().manual_seed(index)
        points = [
            p
            for k in ks
            for s in sigmas
            for p in tradeoff_points(
                family_class(float(s), k), args.dim, args.ball, eps_values, args.samples, generator
            )
        ]
        at_eps = [p for p in points if p.eps == args.eps]
        frontier = pareto_frontier(at_eps)
        best = [max(p.bound for p in points if p.eps == e) for e in eps_values]
        color = f"C{index}"
        left.scatter([p.robustness for p in at_eps], [p.accuracy for p in at_eps], s=4, alpha=0.25, color=color)
        left.plot(
            [p.robustness for p in frontier],
            [p.accuracy for p in frontier],
            drawstyle="steps-post",
            color=color,
            label=label,
        )
        right.plot(eps_values, best, marker="o", color=color, label=label)
        levels = (0.1, 0.2, 0.3, 0.5)
        summary["families"][family_class.name] = {
            "frontier": [
                {"sigma": p.sigma, "k": p.k, "tv": round(p.robustness, 4), "accuracy": round(p.accuracy, 4)}
                for p in frontier
            ],
            "best_accuracy_at_tv": {str(t): round(best_accuracy_within(frontier, t), 4) for t in levels},
            "best_bound_at_eps": {str(e): round(b, 4) for e, b in zip(eps_values, best)},
        }
        print(
            f"{family_class.name:>11}: accuracy term at TV ≤ 0.1 / 0.2 / 0.3 / 0.5 (ε = {args.eps:g}): "
            + " / ".join(f"{best_accuracy_within(frontier, t):.3f}" for t in levels)
            + "; eq. (7) value at ε = "
            + ", ".join(f"{e:g}: {b:.3f}" for e, b in zip(eps_values, best)),
            flush=True,
        )
    left.set_xlabel(f"robustness term: max TV(π0, π_δ), ‖δ‖∞ ≤ {args.eps:g} (λ = 1; lower is better)")
    left.set_ylabel(f"accuracy term: P(‖z‖₂ ≤ {args.ball:g}) (higher is better)")
    left.set_title(f"Pareto frontiers, d = {args.dim}")
    left.set_xlim(0.0, 1.0)
    left.set_ylim(0.0, 1.0)
    right.set_xlabel("ℓ∞ attack radius ε (input units)")
    right.set_ylabel("eq. (7): max over λ, σ, k of λ·accuracy − distance")
    right.set_title("certified lower bound on f# at x0 + δ")
    right.axhline(0.5, color="gray", linewidth=0.8, linestyle="--")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if ax is left else "lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "figure4_pareto.png", dpi=150)
    (out / "figure4_pareto.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out / 'figure4_pareto.png'} and {out / 'figure4_pareto.json'}")


if __name__ == "__main__":
    main()
