"""What produced a results file, in words for a figure: the title holds what every curve shares, each curve's
label what sets it apart.

A file is described by its dataset (from its provenance record), its noise family and parameters, its
certificate, n and α (from its rows), and, for a job of a Hydra sweep, the overrides of its run
(``.hydra/overrides.yaml``: ``objective.lam=6``). A curve is labelled by the fields in which the files differ
(``gaussian(sigma=0.5)``, ``n=100 000``, ``objective.lam=6``), never by a file name unless nothing else tells
two files apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import OmegaConf

from rsmooth.analysis.tables import grouped
from rsmooth.results.file import read_provenance
from rsmooth.results.rows import CertificationRow


def describe(path: str | Path, rows: Sequence[CertificationRow]) -> dict[str, str]:
    """The fields that say what produced ``path``: ``dataset``, ``noise``, ``certificate``, ``n``, ``α`` and
    (a sweep's job) ``overrides``; a field the file does not record is left out."""
    path = Path(path)
    record = read_provenance(path) if path.is_file() else None
    fields: dict[str, str] = {}
    if record and isinstance(record.get("data"), Mapping) and record["data"].get("name"):
        fields["dataset"] = str(record["data"]["name"])
    first = rows[0] if rows else None
    if first is not None and first.noise:
        fields["family"] = first.noise.split("(")[0]
        fields["noise"] = first.noise
    if first is not None and first.certificate:
        fields["certificate"] = f"{first.certificate} certificate"
    budgets = {r.n for r in rows if r.n}
    if budgets:
        fields["n"] = f"n={grouped(max(budgets))}" + (" (sequential, at most)" if len(budgets) > 1 else "")
    alphas = {r.alpha for r in rows if r.alpha is not None}
    if len(alphas) == 1:
        fields["α"] = f"α={alphas.pop():g}"
    overrides = path.parent / ".hydra" / "overrides.yaml"
    if overrides.is_file():
        fields["overrides"] = " ".join(str(o) for o in OmegaConf.load(overrides))
    return fields


def _sweep_overrides(described: Sequence[Mapping[str, str]]) -> tuple[list[str], list[str]]:
    """(per file, the overrides no other file shares: ``noise.sigma=0.5 objective.lam=6``; those all share:
    ``experiment=digits_stability``)."""
    runs = [d.get("overrides", "").split() for d in described]
    shared = set.intersection(*(set(r) for r in runs)) if runs else set()
    return [" ".join(o for o in run if o not in shared) for run in runs], [o for o in runs[0] if o in shared]


def labels_and_title(paths: Sequence[Path], described: Sequence[Mapping[str, str]]) -> tuple[list[str], str]:
    """(one distinct label per file, the title): the label holds the fields in which the files differ, the title
    those they share. Files that agree in every field are told apart by their run directory, then their path."""
    keys = ["dataset", "family", "noise", "certificate", "n", "α"]
    # a field differs when every file records it and not all alike (one file's silence tells nothing apart)
    differing = [k for k in keys if all(k in d for d in described) and len({d[k] for d in described}) > 1]
    keys.remove("family")  # where the noise is shared it says the family; where not, each label's noise does
    if "noise" in differing and "family" not in differing:
        keys.insert(1, "family")  # one family, other parameters: the title names the family
    differing = [k for k in differing if k != "family"]
    # the title: what every file records alike
    shared = [described[0][k] for k in keys if all(d.get(k) == described[0].get(k) is not None for d in described)]
    sweep, common = _sweep_overrides(described)
    if len(paths) > 1 and all(sweep) and len(set(sweep)) == len(sweep):
        labels = sweep  # a sweep's jobs: what the sweep varies (the noise field repeats the swept σ)
    else:
        labels = [", ".join([d[k] for k in differing] + ([s] if s else [])) for d, s in zip(described, sweep)]
    if len(paths) > 1 and (len(set(labels)) < len(labels) or not all(labels)):
        stems = [p.stem for p in paths]
        for fallback in (stems, [f"{p.parent.name}/{p.stem}" for p in paths], [str(p) for p in paths]):
            candidate = [f"{label}, {f}" if label else f for label, f in zip(labels, fallback)]
            if len(set(candidate)) == len(candidate):
                labels = candidate
                break
    if len(paths) == 1 and not labels[0]:
        labels = ["certified"]
    return labels, " · ".join(shared + ([" ".join(common)] if common and len(paths) > 1 else []))
