"""Empirical robust accuracy of a smoothed classifier, and the inside-the-certificate check.

For each example and radius r the attack (:class:`~rsmooth.attack.pgd.SmoothedPGD` at ε = r) looks for
x′ with ‖x′ − x‖ ≤ r, and PREDICT at large n judges g(x′) (its own failure probability α applies, and
its noise stream is independent of the attack's). Empirical robust accuracy at r is the share of
examples whose g(x′) is still the true label: an upper bound on the true robust accuracy, as certified
accuracy is a lower bound.

Inside check: for an example certified with class c and radius R > 0, attack at ε = (1 − 10⁻³)·R, away
from c. A returned class other than c (not an abstention) is a flip strictly inside the certificate; a
sound certificate allows that with probability at most its failure probability (plus PREDICT's α).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from rsmooth.attack.pgd import SmoothedPGD
from rsmooth.smoothing.smooth import Smooth

#: the inside check attacks at this share of the certified radius (strictly inside)
INSIDE = 1 - 1e-3


@dataclass(frozen=True)
class AttackRow:
    """One attack: example ``idx`` (true ``label``) pushed away from ``target`` within ε = ``eps``;
    ``prediction`` is PREDICT's class at the adversarial input (−1: abstained). ``kind`` is ``curve``
    (ε a curve radius, target = label) or ``inside`` (ε just inside the certified radius, target = the
    certified class)."""

    idx: int
    label: int
    kind: str
    eps: float
    target: int
    prediction: int
    certified_radius: float | None = None


def attack_examples(
    smooth: Smooth,
    pgd: SmoothedPGD,
    examples: Sequence[tuple[int, torch.Tensor, int]],
    radii: Sequence[float],
    certified: Mapping[int, tuple[int, float]] | None,
    predict_n: int,
    predict_alpha: float,
    batch_size: int,
) -> list[AttackRow]:
    """Curve rows for every example and radius, then inside rows for every certified example.

    ``examples``: (idx, x (C, H, W), label); ``certified``: idx → (certified class, radius) from a
    results file (None: no inside check)."""
    model, device = smooth.base, smooth.counter.device()
    rows: list[AttackRow] = []
    ids = [idx for idx, _, _ in examples]
    xs = torch.stack([x for _, x, _ in examples]).to(device)
    labels = torch.tensor([label for _, _, label in examples], device=device)

    def judge(x_adv: torch.Tensor, idx: int) -> int:
        return smooth.predict(x_adv, predict_n, predict_alpha, batch_size, id=idx).prediction

    for r in radii:
        adv = pgd.attack(model, xs, labels, float(r), ids)
        for j, (idx, _, label) in enumerate(examples):
            rows.append(AttackRow(idx, label, "curve", float(r), label, judge(adv[j], idx)))
    for j, (idx, _, label) in enumerate(examples):
        if certified is None or idx not in certified:
            continue
        cls, radius = certified[idx]
        if cls < 0 or radius <= 0:
            continue
        eps = INSIDE * radius
        adv = pgd.attack(model, xs[j : j + 1], torch.tensor([cls], device=device), eps, [idx])
        rows.append(AttackRow(idx, label, "inside", eps, cls, judge(adv[0], idx), radius))
    return rows


def empirical_robust_accuracy(rows: Sequence[AttackRow], radii: Sequence[float]) -> list[float]:
    """At each radius: the share of attacked examples whose adversarial input PREDICT still labels correctly."""
    out = []
    for r in radii:
        at = [row for row in rows if row.kind == "curve" and row.eps == float(r)]
        out.append(sum(row.prediction == row.label for row in at) / len(at) if at else float("nan"))
    return out


def inside_radius_flips(rows: Sequence[AttackRow]) -> tuple[int, int]:
    """(flips, attempts) of the inside check: PREDICT returned a class other than the certified one."""
    inside = [row for row in rows if row.kind == "inside"]
    return sum(row.prediction not in (row.target, -1) for row in inside), len(inside)
