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

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from rsmooth.analysis.curves import certified_accuracy, load_rows
from rsmooth.analysis.plots import plot_curves
from rsmooth.atomic import write_text_atomic
from rsmooth.attack import SmoothedPGD, attack_examples, empirical_robust_accuracy, inside_radius_flips
from rsmooth.attack.evaluate import AttackRow
from rsmooth.cli.certify import load_job
from rsmooth.cli.schema import AttackSchema, check_config
from rsmooth.errors import ConfigError
from rsmooth.loading.checkpoint import LoadedClassifier
from rsmooth.results.file import required_provenance
from rsmooth.results.provenance import examples_digest, weights_digest
from rsmooth.smoothing.loop import Examples, select_indices
from rsmooth.smoothing.settings import resolve_device
from rsmooth.smoothing.smooth import Smooth

COLUMNS = ("idx", "label", "kind", "eps", "target", "prediction", "certified_radius")


def _certified(
    path: Path, loaded: LoadedClassifier, norm: str, results_format: str, dataset: Examples
) -> tuple[dict[int, tuple[int, float]], bool]:
    """(idx → (class, radius), whether the provenance is known) from a results file of this very classifier (the
    checkpoint file's digest, or for rsmooth-train's own file the weights' digest) and test set (the examples'
    digest), in the attack's norm. A file without a provenance record is refused unless
    ``certified_format=cohen`` says it comes from another tool; its provenance is then unknown."""
    if not path.is_file():
        raise ConfigError(f"certified={path}: no such results file")
    record = required_provenance(path, "certified", results_format)
    if record is not None:
        recorded_data = (record.get("data") or {}).get("examples_sha256")
        if recorded_data is not None and recorded_data != examples_digest(dataset)["examples_sha256"]:
            raise ConfigError(
                f"certified={path} was made on another test set (its examples' digest differs from this data's)"
            )
    checkpoint = (record or {}).get("checkpoint") or {}
    digests: dict[str, Callable[[], str]] = {
        "sha256": lambda: loaded.digest,
        "weights_sha256": lambda: weights_digest(loaded.model),
    }
    for key, digest in digests.items():
        recorded = checkpoint.get(key)
        if recorded is not None and recorded != digest():
            raise ConfigError(
                f"certified={path} was made with another checkpoint ({key} {recorded[:12]}…, this one {digest()[:12]}…)"
            )
    rows = load_rows(path)
    norms = {r.norm for r in rows if r.norm}
    if norms - {norm}:
        raise ConfigError(f"certified={path} holds {sorted(norms)} radii, but the attack is in {norm}")
    return {r.idx: (r.predict, r.radius) for r in rows}, record is not None


def _tsv(rows: list[AttackRow]) -> str:
    lines = ["\t".join(COLUMNS)]
    for r in rows:
        radius = "" if r.certified_radius is None else f"{r.certified_radius:.6f}"
        lines.append(f"{r.idx}\t{r.label}\t{r.kind}\t{r.eps:.6f}\t{r.target}\t{r.prediction}\t{radius}")
    return "\n".join(lines) + "\n"


def attack(cfg: DictConfig) -> dict[str, Any]:
    """Attack the examples ``cfg`` selects at every radius in ``radii``; write rows, summary and plot."""
    settings = check_config(cfg, AttackSchema)  # before anything is loaded or written
    radii, predict = settings.radii, settings.predict
    loaded, dm, noise = load_job(settings, cfg)
    device = resolve_device(settings.device)
    smooth = Smooth(
        loaded.model.to(device), noise, loaded.num_classes, seed=settings.seed, certificate=settings.certificate
    )
    if smooth.exact:
        raise ConfigError(
            f"{smooth.certificate.name} is exact (no sampling, no failure probability); its "
            "radii are checked by brute force, and rsmooth-attack is for Monte Carlo families"
        )
    pgd_settings = settings.attack
    norm = pgd_settings.norm or smooth.certificate.norm
    pgd = SmoothedPGD(
        noise,
        norm=norm,
        steps=pgd_settings.steps,
        samples=pgd_settings.samples,
        step_scale=pgd_settings.step_scale,
        l1_share=pgd_settings.l1_share,
        seed=settings.seed,
    )
    dataset = dm.certification_dataset()
    certified, known = (
        _certified(Path(settings.certified), loaded, norm, settings.certified_format, dataset)
        if settings.certified
        else (None, True)
    )
    if certified is not None:
        indices = sorted(certified)[: settings.max] if settings.max is not None else sorted(certified)
    else:
        indices = select_indices(len(dataset), 0, None, settings.skip, settings.max)
    examples = [(i, torch.as_tensor(dataset[i][0]).float(), int(dataset[i][1])) for i in indices]
    rows = attack_examples(smooth, pgd, examples, radii, certified, predict.n, predict.alpha, settings.batch_size)

    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    empirical = empirical_robust_accuracy(rows, radii)
    flips, attempts = inside_radius_flips(rows)
    summary: dict[str, Any] = {
        "examples": len(examples),
        "norm": norm,
        "radii": radii,
        "empirical_robust_accuracy": empirical,
        "inside_flips": flips,
        "inside_attempts": attempts,
        "attack": dataclasses.asdict(pgd_settings),
        "predict": {"n": predict.n, "alpha": predict.alpha},
    }
    curves = {"empirical (PGD on g)": (radii, empirical)}
    if certified is not None:
        cert_rows = [r for r in load_rows(Path(str(settings.certified))) if r.idx in set(indices)]
        summary["certified_accuracy"] = cert = certified_accuracy(cert_rows, radii)
        summary["gap"] = [e - c for e, c in zip(empirical, cert)]
        summary["certified_provenance"] = "checked" if known else "unknown"
        curves = {"certified": (radii, cert), **curves}
    tsv = Path(settings.output) if settings.output else out / "attack.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(tsv, _tsv(rows))
    write_text_atomic(tsv.with_name(tsv.stem + "_summary.json"), json.dumps(summary, indent=2) + "\n")
    plot = plot_curves(
        curves,
        tsv.with_suffix(".png"),
        norm=norm,
        dashed=["empirical (PGD on g)"],
        ylabel="accuracy",
        title="certified (lower bound) vs attacked (upper bound)",
    )
    print("| radius | " + " | ".join(f"{r:g}" for r in radii) + " |")
    print("|---" * (len(radii) + 1) + "|")
    for name, (_, ys) in curves.items():
        print(f"| {name} | " + " | ".join(f"{y:.3f}" for y in ys) + " |")
    if certified is not None:
        print(f"inside check: {flips} of {attempts} certified examples flipped strictly inside their radius")
        if not known:
            print(
                f"provenance unknown: {settings.certified} has no record of the classifier, noise and data that made "
                "it (certified_format=cohen); a flip inside a radius may mean the file is of another model"
            )
    print(f"outputs: {tsv.resolve()}, {plot.resolve()}")
    return {"rows": rows, "summary": summary, "tsv": tsv, "plot": plot}
