"""``rsmooth-attack``: PGD on the smoothed classifier; empirical robust accuracy beside the certified curve.

    rsmooth-attack checkpoint=…/final.ckpt certified=…/certify.tsv radii=[0,0.25,0.5,0.75]

For each example (those of ``certified`` when given, else the test split's first ``max`` every ``skip``)
and each radius r, :class:`~rsmooth.attack.SmoothedPGD` attacks at ε = r and PREDICT (``predict.n``
samples) judges the adversarial input. With ``certified``, every certified example is also attacked just
inside its radius (the inside check; a flip there beyond the failure probability would mean an unsound
certificate). Writes ``attack.tsv`` (one row per attack), ``attack_summary.json`` and ``attack.png``
(certified accuracy and empirical robust accuracy on one plot: the truth lies between them). The files
are written when the run ends, each at once (write-then-rename): a killed run leaves no partial file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

from rsmooth.analysis.curves import certified_accuracy, load_rows
from rsmooth.analysis.plots import plot_curves
from rsmooth.attack import SmoothedPGD, attack_examples, empirical_robust_accuracy, inside_radius_flips
from rsmooth.attack.evaluate import AttackRow
from rsmooth.certify.loop import select_indices
from rsmooth.certify.results_file import read_provenance
from rsmooth.certify.stats import check_alpha, check_count
from rsmooth.checkpoint import LoadedClassifier
from rsmooth.cli.certification_job import build_smooth
from rsmooth.cli.certify import load_job
from rsmooth.cli.errors import run_reporting_errors
from rsmooth.config import config_dir
from rsmooth.errors import ConfigError
from rsmooth.provenance import weights_digest
from rsmooth.schema import AttackSchema, check_config

COLUMNS = ("idx", "label", "kind", "eps", "target", "prediction", "certified_radius")


def _certified(path: Path, loaded: LoadedClassifier, norm: str) -> dict[int, tuple[int, float]]:
    """idx → (class, radius) from a results file of this very classifier (the checkpoint file's digest, or
    for rsmooth-train's own file the weights' digest), in the attack's norm."""
    if not path.is_file():
        raise ConfigError(f"certified={path}: no such results file")
    checkpoint = (read_provenance(path) or {}).get("checkpoint") or {}
    for key, digest in (("sha256", lambda: loaded.digest), ("weights_sha256", lambda: weights_digest(loaded.model))):
        recorded = checkpoint.get(key)
        if recorded is not None and recorded != digest():
            raise ConfigError(f"certified={path} was made with another checkpoint ({key} {recorded[:12]}…, "
                              f"this one {digest()[:12]}…)")
    rows = load_rows(path)
    norms = {r.norm for r in rows if r.norm}
    if norms - {norm}:
        raise ConfigError(f"certified={path} holds {sorted(norms)} radii, but the attack is in {norm}")
    return {r.idx: (r.predict, r.radius) for r in rows}


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _tsv(rows: list[AttackRow]) -> str:
    lines = ["\t".join(COLUMNS)]
    for r in rows:
        radius = "" if r.certified_radius is None else f"{r.certified_radius:.6f}"
        lines.append(f"{r.idx}\t{r.label}\t{r.kind}\t{r.eps:.6f}\t{r.target}\t{r.prediction}\t{radius}")
    return "\n".join(lines) + "\n"


def attack(cfg: DictConfig) -> dict[str, Any]:
    """Attack the examples ``cfg`` selects at every radius in ``cfg.radii``; write rows, summary and plot."""
    check_config(cfg, AttackSchema)  # before anything is loaded or written
    radii = [float(r) for r in cfg.radii]
    if not radii or any(not r >= 0 for r in radii):
        raise ConfigError(f"radii must be a list of numbers >= 0, got {list(cfg.radii)}")
    check_alpha(cfg.predict.alpha)
    predict_n = check_count("predict.n", cfg.predict.n)
    batch_size = check_count("batch_size", cfg.batch_size)
    loaded, dm, noise = load_job(cfg)
    smooth = build_smooth(loaded.model, noise, loaded.num_classes, OmegaConf.create(
        {"device": cfg.device, "seed": cfg.seed, "certificate": cfg.get("certificate"), "precision": None}))
    if smooth.exact:
        raise ConfigError(f"{smooth.certificate.name} is exact (no sampling, no failure probability); its "
                          "radii are checked by brute force, and rsmooth-attack is for Monte Carlo families")
    norm = cfg.attack.get("norm") or smooth.certificate.norm
    pgd = SmoothedPGD(noise, norm=norm, steps=cfg.attack.steps, samples=cfg.attack.samples,
                      step_scale=float(cfg.attack.step_scale), l1_share=float(cfg.attack.l1_share), seed=cfg.seed)
    certified = _certified(Path(cfg.certified), loaded, norm) if cfg.get("certified") else None
    dataset = dm.certification_dataset()
    if certified is not None:
        indices = sorted(certified)[: cfg.max] if cfg.max is not None else sorted(certified)
    else:
        indices = select_indices(len(dataset), 0, None, cfg.skip, cfg.max)  # type: ignore[arg-type]
    examples = [(i, torch.as_tensor(dataset[i][0]).float(), int(dataset[i][1])) for i in indices]
    rows = attack_examples(smooth, pgd, examples, radii, certified, predict_n, float(cfg.predict.alpha), batch_size)

    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    empirical = empirical_robust_accuracy(rows, radii)
    flips, attempts = inside_radius_flips(rows)
    summary: dict[str, Any] = {"examples": len(examples), "norm": norm, "radii": radii,
                               "empirical_robust_accuracy": empirical, "inside_flips": flips,
                               "inside_attempts": attempts,
                               "attack": OmegaConf.to_container(cfg.attack, resolve=True), "predict": {
                                   "n": predict_n, "alpha": float(cfg.predict.alpha)}}
    curves = {"empirical (PGD on g)": (radii, empirical)}
    if certified is not None:
        cert_rows = [r for r in load_rows(Path(cfg.certified)) if r.idx in set(indices)]
        summary["certified_accuracy"] = cert = certified_accuracy(cert_rows, radii)
        summary["gap"] = [e - c for e, c in zip(empirical, cert)]
        curves = {"certified": (radii, cert), **curves}
    tsv = Path(cfg.output) if cfg.get("output") else out / "attack.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(tsv, _tsv(rows))
    _write_atomically(tsv.with_name(tsv.stem + "_summary.json"), json.dumps(summary, indent=2) + "\n")
    plot = plot_curves(curves, tsv.with_suffix(".png"), norm=norm, dashed=["empirical (PGD on g)"],
                       ylabel="accuracy", title="certified (lower bound) vs attacked (upper bound)")
    print("| radius | " + " | ".join(f"{r:g}" for r in radii) + " |")
    print("|---" * (len(radii) + 1) + "|")
    for name, (_, ys) in curves.items():
        print(f"| {name} | " + " | ".join(f"{y:.3f}" for y in ys) + " |")
    if certified is not None:
        print(f"inside check: {flips} of {attempts} certified examples flipped strictly inside their radius")
    print(f"outputs: {tsv.resolve()}, {plot.resolve()}")
    return {"rows": rows, "summary": summary, "tsv": tsv, "plot": plot}


@hydra.main(config_path=str(config_dir()), config_name="attack", version_base="1.3")
def main(cfg: DictConfig) -> None:
    run_reporting_errors("rsmooth-attack", attack, cfg)


if __name__ == "__main__":
    main()
