"""Zhang et al. 2020, Figure 4: the accuracy–robustness trade-off of eq. (7) for the three ℓ∞ smoothing
families — ℓ2 power (eq. 8), mixed ℓ∞/ℓ2 (eq. 9), pure ℓ∞ (eq. 10) — with the ball classifier
f#(x) = 1{‖x‖₂ ≤ r0}, r0 = 0.65, in d = 5 (the paper's toy setting).

Left: each family's Pareto frontier of the accuracy term P_π0(‖z‖₂ ≤ r0) against the robustness term at
λ = 1 (total variation) for ‖δ‖∞ ≤ ε (ε = 0.1 by default: the paper gives neither λ nor ε), over a (σ, k) grid.

Right: the value of eq. (7), λ free, at matched clean accuracy A (one panel per A): for each ε the best value
over k (σ is then fixed by A), with (k, σ, λ) chosen on one set of draws and the value reported on an
independent set, averaged over seeds; error bars are 95 % t-intervals over the seeds (their spread at least
the Monte Carlo standard error). Over σ with λ free, the value tends to 1 for every family when ε√d < r0
(σ → 0), so matching A is what makes the comparison well posed. Dotted: the Gaussian's exact value
Φ(Φ⁻¹(A) − ε√d/σ_A) (k = 0 of the ℓ2 and mixed families).
Definitions and the reasons: :mod:`rsmooth.analysis.pareto`.

    python experiments/figure4_pareto.py --out figure4                  (about 15 minutes on 2 CPU cores)
    python experiments/figure4_pareto.py --out figure4b --first-seed 100   (the same with independent seeds)
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import chi2, norm, t

from rsmooth.analysis.pareto import (
    MatchedValue,
    best_accuracy_within,
    matched_accuracy_values,
    pareto_frontier,
    tradeoff_points,
)
from rsmooth.noise import LinfPowerNoise, MixedLinfNoise, PowerL2Noise

FAMILIES = (
    (PowerL2Noise, "ℓ2 power, eq. (8)"),
    (MixedLinfNoise, "mixed ℓ∞/ℓ2, eq. (9)"),
    (LinfPowerNoise, "pure ℓ∞, eq. (10)"),
)


def gaussian_value(dim: int, ball: float, accuracy: float, eps: float) -> float:
    """Eq. (7) for N(0, σ_A²I) at accuracy A, exactly: Φ(Φ⁻¹(A) − ε√d/σ_A), σ_A = r0/√(χ²_d quantile of A)."""
    sigma = ball / math.sqrt(chi2.ppf(accuracy, dim))
    return float(norm.cdf(norm.ppf(accuracy) - eps * math.sqrt(dim) / sigma))


def interval(values: list[float], standard_errors: list[float]) -> tuple[float, float]:
    """(mean, half-width of its 95 % t-interval) of one value per seed. The spread is the larger of the seeds'
    sample standard deviation and the root mean square of their Monte Carlo standard errors: each seed's value
    carries at least its evaluation noise, which eight seeds can underestimate by chance."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, float("nan")
    spread = max(float(np.std(values, ddof=1)), math.sqrt(float(np.mean(np.square(standard_errors)))))
    return mean, float(t.ppf(0.975, len(values) - 1) * spread / math.sqrt(len(values)))


def compare(summary: dict, first: str, second: str) -> dict:
    """Where family ``first``'s mean value is above / below / within the error bars of ``second``'s, over every
    (A, ε): the difference of the means against the half-width √(h₁² + h₂²) of their two intervals."""
    ahead, behind, tied, largest = [], [], [], 0.0
    for target, rows in summary["families"][first]["matched_accuracy"].items():
        for eps, entry in rows.items():
            other = summary["families"][second]["matched_accuracy"][target][eps]
            gap = entry["value"] - other["value"]
            width = math.hypot(entry["half_width"], other["half_width"])
            (ahead if gap > width else behind if gap < -width else tied).append(f"A={target} ε={eps}")
            largest = max(largest, abs(gap))
    return {"ahead": ahead, "behind": behind, "tied": tied, "largest_difference": largest}


def verdict_line(summary: dict) -> str:
    """One line: how the mixed family compares with the ℓ2 family, and both with the pure ℓ∞ family."""
    mixed = compare(summary, "mixed_linf", "power_l2")
    cells = len(mixed["ahead"]) + len(mixed["behind"]) + len(mixed["tied"])
    below = [len(compare(summary, "linf_power", other)["behind"]) for other in ("power_l2", "mixed_linf")]
    return (
        f"mixed vs ℓ2 power: ahead at {len(mixed['ahead'])}, behind at {len(mixed['behind'])}, tied within the "
        f"intervals at {len(mixed['tied'])} of {cells} (A, ε) (largest gap {mixed['largest_difference']:.3f}); "
        f"pure ℓ∞ below ℓ2 power at {below[0]} and below mixed at {below[1]} of {cells}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--ball", type=float, default=0.65, help="r0 of f#(x) = 1{‖x‖₂ ≤ r0}")
    parser.add_argument("--eps", type=float, default=0.1, help="ℓ∞ attack radius of the frontier panel")
    parser.add_argument("--eps-values", type=float, nargs="+", default=[0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    parser.add_argument("--accuracies", type=float, nargs="+", default=[0.95, 0.99, 0.995, 0.999])
    parser.add_argument("--samples", type=int, default=250_000, help="draws per (family, k, seed), each set")
    parser.add_argument("--seeds", type=int, default=8, help="independent repetitions (error bars)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--frontier-samples", type=int, default=40_000, help="draws per (family, σ, k), left")
    parser.add_argument("--sigmas", type=int, default=30, help="σ values of the left panel, log-spaced in [0.02, 1.5]")
    parser.add_argument("--ks", type=float, nargs="+", default=None, help="k values (default 0, 0.5, …, d − 0.5)")
    parser.add_argument("--out", default="figure4", help="output directory")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ks = args.ks if args.ks is not None else [float(k) for k in np.arange(0.0, args.dim, 0.5)]
    sigmas = np.geomspace(0.02, 1.5, args.sigmas)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    fig = plt.figure(figsize=(19.0, 7.5))
    columns = len(args.accuracies)
    grid = fig.add_gridspec(2, columns + 1, width_ratios=(1.6, *([1.0] * columns)))
    left = fig.add_subplot(grid[:, 0])
    panels = [fig.add_subplot(grid[0, 1 + i]) for i in range(columns)]
    gaps = [fig.add_subplot(grid[1, 1 + i], sharex=panels[i]) for i in range(columns)]
    summary: dict = {
        "dim": args.dim,
        "ball": args.ball,
        "frontier_eps": args.eps,
        "eps_values": args.eps_values,
        "accuracies": args.accuracies,
        "ks": ks,
        "samples": args.samples,
        "seeds": seeds,
        "gaussian_exact": {
            str(a): {str(e): gaussian_value(args.dim, args.ball, a, e) for e in args.eps_values}
            for a in args.accuracies
        },
        "families": {},
    }
    for index, (family_class, label) in enumerate(FAMILIES):
        color = f"C{index}"
        generator = torch.Generator().manual_seed(1000 * index + args.first_seed)
        at_eps = [
            p
            for k in ks
            for s in sigmas
            for p in tradeoff_points(
                family_class(float(s), k), args.dim, args.ball, [args.eps], args.frontier_samples, generator
            )
        ]
        frontier = pareto_frontier(at_eps)
        left.scatter([p.robustness for p in at_eps], [p.accuracy for p in at_eps], s=4, alpha=0.25, color=color)
        left.plot(
            [p.robustness for p in frontier],
            [p.accuracy for p in frontier],
            drawstyle="steps-post",
            color=color,
            label=label,
        )
        per_seed: list[list[MatchedValue]] = []
        for seed in seeds:
            per_seed.append(
                matched_accuracy_values(
                    family_class,
                    args.dim,
                    args.ball,
                    args.accuracies,
                    args.eps_values,
                    ks,
                    args.samples,
                    torch.Generator().manual_seed(10_000 * (index + 1) + seed),
                )
            )
        matched: dict[str, dict[str, dict]] = {}
        for position, record in enumerate(per_seed[0]):
            runs = [seed_values[position] for seed_values in per_seed]
            mean, half_width = interval([r.value for r in runs], [r.standard_error for r in runs])
            matched.setdefault(str(record.target), {})[str(record.eps)] = {
                "value": mean,
                "half_width": half_width,
                "per_seed": [
                    {
                        "value": r.value,
                        "standard_error": r.standard_error,
                        "k": r.k,
                        "sigma": r.sigma,
                        "lam": r.lam,
                        "accuracy": r.accuracy,
                    }
                    for r in runs
                ],
            }
        for panel, gap, target in zip(panels, gaps, args.accuracies):
            rows, exact = matched[str(target)], summary["gaussian_exact"][str(target)]
            values = [rows[str(e)]["value"] for e in args.eps_values]
            errors = [rows[str(e)]["half_width"] for e in args.eps_values]
            style = {"marker": "o", "markersize": 3, "capsize": 3, "color": color, "label": label}
            panel.errorbar(args.eps_values, values, yerr=errors, **style)
            if family_class is not LinfPowerNoise:  # far below the others (top row): it would flatten this scale
                gap.errorbar(
                    args.eps_values, [v - exact[str(e)] for v, e in zip(values, args.eps_values)], yerr=errors, **style
                )
        levels = (0.1, 0.2, 0.3, 0.5)
        summary["families"][family_class.name] = {
            "frontier": [
                {"sigma": p.sigma, "k": p.k, "tv": round(p.robustness, 4), "accuracy": round(p.accuracy, 4)}
                for p in frontier
            ],
            "best_accuracy_at_tv": {str(level): round(best_accuracy_within(frontier, level), 4) for level in levels},
            "matched_accuracy": matched,
        }
        print(
            f"{family_class.name:>11}: accuracy term at TV ≤ 0.1 / 0.2 / 0.3 / 0.5 (ε = {args.eps:g}): "
            + " / ".join(f"{best_accuracy_within(frontier, level):.3f}" for level in levels),
            flush=True,
        )
    for panel, gap, target in zip(panels, gaps, args.accuracies):
        exact = summary["gaussian_exact"][str(target)]
        panel.plot(
            args.eps_values, [exact[str(e)] for e in args.eps_values], ":", color="gray", label="Gaussian, exact"
        )
        panel.set_title(f"clean accuracy A = {target:g}", fontsize=10)
        panel.set_ylim(0.0, 1.0)
        gap.axhline(0.0, linestyle=":", color="gray", label="Gaussian, exact")
        gap.set_xlabel("ℓ∞ attack radius ε")
    panels[0].set_ylabel("eq. (7): best over k, λ free")
    gaps[0].set_ylabel("minus the Gaussian's exact value")
    left.set_xlabel(f"robustness term: max TV(π0, π_δ), ‖δ‖∞ ≤ {args.eps:g} (λ = 1; lower is better)")
    left.set_ylabel(f"accuracy term: P(‖z‖₂ ≤ {args.ball:g}) (higher is better)")
    left.set_title(f"Pareto frontiers over (σ, k), {args.frontier_samples:,} draws per point")
    left.set_xlim(0.0, 1.0)
    left.set_ylim(0.0, 1.0)
    for ax in (left, *panels, *gaps):
        ax.grid(alpha=0.3)
    left.legend(loc="lower right", fontsize=8)
    panels[0].legend(loc="lower left", fontsize=7)
    summary["verdict"] = {
        "mixed_vs_power_l2": compare(summary, "mixed_linf", "power_l2"),
        "linf_power_vs_power_l2": compare(summary, "linf_power", "power_l2"),
        "linf_power_vs_mixed": compare(summary, "linf_power", "mixed_linf"),
        "line": verdict_line(summary),
    }
    fig.suptitle(
        f"Zhang et al. 2020, Figure 4 setting: f#(x) = 1{{‖x‖₂ ≤ {args.ball:g}}}, d = {args.dim}, "
        f"ε ∈ {{{', '.join(f'{e:g}' for e in args.eps_values)}}}, k ∈ {{{ks[0]:g}, …, {ks[-1]:g}}}. "
        f"Right: (k, σ, λ) chosen on {args.samples:,} draws, value on {args.samples:,} other draws; "
        f"mean and 95 % interval over {len(seeds)} seeds\n"
        f"paper: the mixed family gives the best trade-off. measured: {summary['verdict']['line']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(out / "figure4_pareto.png", dpi=150)
    highest = max(
        entry["value"]
        for family in summary["families"].values()
        for rows in family["matched_accuracy"].values()
        for entry in rows.values()
    )
    summary["highest_value"] = highest
    (out / "figure4_pareto.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\neq. (7) at matched clean accuracy, best over k, λ free; mean ± 95 % half-width over {len(seeds)} seeds\n")
    print("| A | family | " + " | ".join(f"ε = {e:g}" for e in args.eps_values) + " |")
    print("|---|---|" + "---|" * len(args.eps_values))
    for target in args.accuracies:
        for family_class, _ in FAMILIES:
            rows = summary["families"][family_class.name]["matched_accuracy"][str(target)]
            cells = [f"{rows[str(e)]['value']:.3f} ± {rows[str(e)]['half_width']:.3f}" for e in args.eps_values]
            print(f"| {target:g} | {family_class.name} | " + " | ".join(cells) + " |")
        exact = summary["gaussian_exact"][str(target)]
        print(f"| {target:g} | Gaussian, exact | " + " | ".join(f"{exact[str(e)]:.3f}" for e in args.eps_values) + " |")
    print(f"\nhighest value reported: {highest:.4f}\nmeasured: {summary['verdict']['line']}")
    print(f"wrote {out / 'figure4_pareto.png'} and {out / 'figure4_pareto.json'}")


if __name__ == "__main__":
    main()
