"""Attacks on the smoothed classifier: an empirical upper bound on its robust accuracy.

A certified radius is a lower bound on the distance to the nearest adversarial example; an attack that
finds one gives an upper bound. Plotted together they bracket the truth, and an attack that succeeds
strictly inside a certified radius more often than the failure probability allows would expose an
unsound certificate (:mod:`rsmooth.attack.evaluate`).
"""

from rsmooth.attack.evaluate import AttackRow, attack_examples, empirical_robust_accuracy, inside_radius_flips
from rsmooth.attack.pgd import SmoothedPGD, pgd_on_soft_smoothed, soft_smoothed_log_prob, steepest_ascent
from rsmooth.attack.projections import project, project_l1, project_l2, project_linf

__all__ = [
    "AttackRow",
    "SmoothedPGD",
    "attack_examples",
    "empirical_robust_accuracy",
    "inside_radius_flips",
    "pgd_on_soft_smoothed",
    "project",
    "project_l1",
    "project_l2",
    "project_linf",
    "soft_smoothed_log_prob",
    "steepest_ascent",
]
