"""The theorems: one input's vote counts → prediction, radius, norm and total failure probability.

Pure math over counts (numpy/scipy; torch where a training objective differentiates a radius):
:mod:`~rsmooth.certificates.base` (the contract, vote counts),
:mod:`~rsmooth.certificates.bounds` (Clopper–Pearson bounds), one module per certificate (:mod:`cohen`,
:mod:`lipschitz_l1`, :mod:`exact_splitting`, :mod:`pure_dp`, :mod:`coordinate_tv`, :mod:`functional` with
:mod:`power_counts` and :mod:`quadrature`) and the earlier Gaussian bounds Cohen et al.'s is compared with
(:mod:`lecuyer`, :mod:`li_renyi`, :mod:`total_variation`, :mod:`dmr`). Nothing here samples or knows a network.
"""

from rsmooth.certificates.base import (
    ABSTAIN,
    BoundCertificate,
    Certificate,
    CertifiedRadius,
    DifferentiableRadius,
    VoteCounts,
)
from rsmooth.certificates.bounds import clopper_pearson_lower, clopper_pearson_upper
from rsmooth.certificates.cohen import cohen_radius
from rsmooth.certificates.dmr import dmr_radius
from rsmooth.certificates.lecuyer import lecuyer_radius
from rsmooth.certificates.li_renyi import li_renyi_radius
from rsmooth.certificates.pure_dp import exponential_scale, pure_dp_radius
from rsmooth.certificates.total_variation import tv_radius

__all__ = [
    "ABSTAIN",
    "BoundCertificate",
    "Certificate",
    "CertifiedRadius",
    "DifferentiableRadius",
    "VoteCounts",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "cohen_radius",
    "dmr_radius",
    "exponential_scale",
    "lecuyer_radius",
    "li_renyi_radius",
    "pure_dp_radius",
    "tv_radius",
]
