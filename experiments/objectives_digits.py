"""Certified accuracy of every training objective on digits: noise augmentation, stability, consistency, SmoothAdv
and MACER, and denoised smoothing of a classifier trained on clean digits (no denoiser, MSE, stability, and
stability fine-tuned from the MSE denoiser as Salman et al. 2020 train it), at
σ = 0.25 and 0.5, each certified on all 359 test images with n = 10 000 (α = 0.001, n0 = 100, the default
certification group). Every run is a plain ``rsmooth-train`` (or ``rsmooth-certify``) command with the same
epochs, optimizer and seed as the noise-augmentation baseline; its directory under ``--out`` is reused when
it already holds ``certify.summary.json``, so a killed run of this script continues where it stopped.

    python experiments/objectives_digits.py --out outputs/objectives                # Gaussian, both σ
    python experiments/objectives_digits.py --out outputs/objectives --family uniform_l1 --sigmas 0.5
    python experiments/objectives_digits.py --out outputs/objectives --table        # the Markdown tables

Prints each command before running it, and the table (certified accuracy at r = 0 / 0.25 / 0.5 / 0.75 / 1.0 and
ACR) at the end; ``--table`` only reads what is there.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

RADII = (0.0, 0.25, 0.5, 0.75, 1.0)
SIGMAS = (0.25, 0.5)
#: (row name, rsmooth-train overrides) per family; the experiment configs fix epochs, optimizer and seed
OBJECTIVES = {
    "gaussian": [
        ("noise augmentation", ["experiment=digits_gaussian"]),
        ("stability", ["experiment=digits_stability"]),
        ("consistency", ["experiment=digits_consistency"]),
        ("smoothadv", ["experiment=digits_smoothadv"]),
        ("macer", ["experiment=digits_macer"]),
        # MACER's paper trains with SGD at lr 0.01; at the baseline's lr 0.1 its hinge stops training (README)
        ("macer, the paper's lr 0.01", ["experiment=digits_macer", "optimizer.lr=0.01"]),
    ],
    # the same objectives and settings under uniform ℓ1 noise (SmoothAdv attacks in ℓ1, MACER through λ(p_A − p_B))
    "uniform_l1": [
        ("noise augmentation", ["experiment=digits_gaussian", "noise=uniform_l1"]),
        ("stability", ["experiment=digits_stability", "noise=uniform_l1"]),
        ("consistency", ["experiment=digits_consistency", "noise=uniform_l1"]),
        ("smoothadv", ["experiment=digits_smoothadv", "noise=uniform_l1"]),
        ("macer", ["experiment=digits_macer", "noise=uniform_l1"]),
        ("macer, the paper's lr 0.01", ["experiment=digits_macer", "noise=uniform_l1", "optimizer.lr=0.01"]),
    ],
}
COMMON = ["logger=csv", "trainer.enable_progress_bar=false", "certification.progress=false"]


def run(command: list[str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def slug(name: str) -> str:
    return name.replace(",", "").replace("'", "").replace(" ", "_")


def train_row(out: Path, overrides: list[str]) -> Path:
    """``rsmooth-train`` into ``out`` unless it already finished there (a half-finished one is resumed)."""
    if not (out / "certify.summary.json").is_file():
        resume = ["resume_from=auto"] if out.exists() else []
        run(["rsmooth-train", *overrides, *COMMON, *resume, f"paths.output_dir={out}"])
    return out


def certify_row(out: Path, checkpoint: Path, sigma: float) -> Path:
    """``rsmooth-certify`` of ``checkpoint`` under Gaussian σ into ``out`` (resumes its own rows)."""
    if not (out / "certify.summary.json").is_file():
        out.mkdir(parents=True, exist_ok=True)
        run(
            [
                "rsmooth-certify",
                f"checkpoint={checkpoint}",
                "noise=gaussian",
                f"noise.sigma={sigma}",
                "certification=default",  # n = 10 000, as rsmooth-train certifies (rsmooth-certify's own: 100 000)
                f"output={out / 'certify.tsv'}",
                f"paths.output_dir={out}",
                "certification.progress=false",
            ]
        )
    return out


def measure(root: Path, family: str, sigmas: tuple[float, ...] = SIGMAS) -> None:
    for sigma in sigmas:
        for name, overrides in OBJECTIVES[family]:
            train_row(root / family / f"sigma{sigma}" / slug(name), [*overrides, f"noise.sigma={sigma}"])
    if family != "gaussian":
        return
    clean = root / "clean_classifier"
    if not (clean / "checkpoints" / "final.ckpt").is_file():
        train_row(clean, ["experiment=digits_gaussian", "objective=clean", "certification.enabled=false"])
    for sigma in sigmas:
        base = root / "denoised" / f"sigma{sigma}"
        certify_row(base / "no_denoiser", clean / "checkpoints" / "final.ckpt", sigma)
        for name in ("mse", "stability"):
            train_row(
                base / f"{name}_denoiser",
                [
                    f"experiment=digits_denoised_{name}",
                    f"noise.sigma={sigma}",
                    f"frozen_classifier.checkpoint={clean / 'checkpoints' / 'final.ckpt'}",
                ],
            )
        # Salman et al. 2020's recipe: the stability denoiser fine-tuned from the MSE one
        train_row(
            base / "stability_denoiser_from_mse",
            [
                "experiment=digits_denoised_stability",
                f"noise.sigma={sigma}",
                f"frozen_classifier.checkpoint={clean / 'checkpoints' / 'final.ckpt'}",
                f"init_from={base / 'mse_denoiser' / 'checkpoints' / 'final.ckpt'}",
            ],
        )


def summary_cells(directory: Path) -> list[str]:
    path = directory / "certify.summary.json"
    if not path.is_file():
        return ["—"] * (len(RADII) + 1)
    summary = json.loads(path.read_text())
    at = dict(zip(summary["radii"], summary["certified_accuracy"]))
    return [down(at[r]) if r in at else "—" for r in RADII] + [down(summary["acr"])]


def down(value: float) -> str:
    """Three decimals, rounded down (as rsmooth prints every certified figure)."""
    return f"{math.floor(value * 1000 + 1e-9) / 1000:.3f}"


def table(root: Path, family: str) -> str:
    head = "| σ | training | " + " | ".join(f"r = {r:g}" for r in RADII) + " | ACR |"
    lines = [head, "|" + "---|" * (len(RADII) + 3)]
    for sigma in SIGMAS:
        denoised = family == "gaussian" and (root / "denoised" / f"sigma{sigma}").is_dir()
        if not (root / family / f"sigma{sigma}").is_dir() and not denoised:
            continue  # not measured at this σ
        for name, _ in OBJECTIVES[family]:
            cells = summary_cells(root / family / f"sigma{sigma}" / slug(name))
            lines.append(f"| {sigma} | {name} | " + " | ".join(cells) + " |")
        if family == "gaussian":
            for name in ("no_denoiser", "mse_denoiser", "stability_denoiser", "stability_denoiser_from_mse"):
                cells = summary_cells(root / "denoised" / f"sigma{sigma}" / name)
                label = "clean classifier, " + name.replace("_", " ").replace("from mse", "fine-tuned from the MSE one")
                lines.append(f"| {sigma} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--family", choices=sorted(OBJECTIVES), default="gaussian")
    parser.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS), help="σ values to train and certify")
    parser.add_argument("--table", action="store_true", help="only print the table of what is there")
    args = parser.parse_args()
    if not args.table:
        if shutil.which("rsmooth-train") is None:
            sys.exit("rsmooth-train is not on PATH: pip install -e . first")
        measure(args.out, args.family, tuple(args.sigmas))
    print(table(args.out, args.family))


if __name__ == "__main__":
    main()
