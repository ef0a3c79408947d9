"""Certification core (pure: torch/numpy/scipy only, any device).

* :mod:`~rsmooth.certify.certificate` — the certificate contract; :mod:`cohen`, :mod:`lipschitz_l1`,
  :mod:`exact_splitting`, :mod:`pure_dp` — the certificates of the built-in families;
  :mod:`lecuyer`, :mod:`li_renyi`, :mod:`total_variation`, :mod:`dmr` — the earlier bounds for
  Gaussian counts that Cohen's is compared with (SPEC §3.6);
* :mod:`~rsmooth.certify.sampling` — the vote-counting loop with per-example randomness;
  :mod:`montecarlo`, :mod:`exact`, :mod:`predict` — CERTIFY's counting, exact enumeration, PREDICT;
* :mod:`~rsmooth.certify.smooth` — ``Smooth``, the smoothed classifier that ties them together;
* :mod:`~rsmooth.certify.rows`, :mod:`results_file`, :mod:`loop` — result rows, the results file,
  and certifying a dataset into it.
"""

from rsmooth.certify.certificate import (
    ABSTAIN,
    BoundCertificate,
    Certificate,
    CertifiedRadius,
    VoteCounts,
)
from rsmooth.certify.cohen import cohen_radius
from rsmooth.certify.dmr import dmr_radius
from rsmooth.certify.lecuyer import lecuyer_radius
from rsmooth.certify.li_renyi import li_renyi_radius
from rsmooth.certify.loop import CertifiedExamples, certify_examples, row_from_result, select_indices
from rsmooth.certify.predict import Prediction
from rsmooth.certify.pure_dp import exponential_scale, pure_dp_radius
from rsmooth.certify.results_file import ResultsWriter, read_provenance
from rsmooth.certify.rows import CertificationRow, read_rows
from rsmooth.certify.sampling import BLOCK_SIZE, RNG_SCHEME, Phase, VoteCounter, block_seed
from rsmooth.certify.smooth import CertifyResult, Smooth, check_unit_interval
from rsmooth.certify.stats import check_alpha, check_count, clopper_pearson_lower, clopper_pearson_upper
from rsmooth.certify.total_variation import tv_radius

__all__ = [
    "ABSTAIN",
    "BLOCK_SIZE",
    "RNG_SCHEME",
    "BoundCertificate",
    "Certificate",
    "CertificationRow",
    "CertifiedExamples",
    "CertifiedRadius",
    "CertifyResult",
    "Phase",
    "Prediction",
    "ResultsWriter",
    "Smooth",
    "VoteCounter",
    "VoteCounts",
    "block_seed",
    "certify_examples",
    "check_alpha",
    "check_count",
    "check_unit_interval",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "cohen_radius",
    "dmr_radius",
    "exponential_scale",
    "lecuyer_radius",
    "li_renyi_radius",
    "pure_dp_radius",
    "read_provenance",
    "read_rows",
    "row_from_result",
    "select_indices",
    "tv_radius",
]
