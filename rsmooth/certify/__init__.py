"""Certification core (pure: torch/numpy/scipy/statsmodels only, any device).

* :mod:`~rsmooth.certify.certificate` — the certificate contract; :mod:`cohen`, :mod:`lipschitz_l1`,
  :mod:`exact_splitting` — the certificates of the built-in families;
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
from rsmooth.certify.loop import CertifiedExamples, certify_examples, row_from_result, select_indices
from rsmooth.certify.predict import Prediction
from rsmooth.certify.results_file import ResultsWriter, read_provenance
from rsmooth.certify.rows import CertificationRow, read_rows
from rsmooth.certify.sampling import BLOCK_SIZE, RNG_SCHEME, Phase, VoteCounter, block_seed
from rsmooth.certify.smooth import CertifyResult, Smooth, check_unit_interval
from rsmooth.certify.stats import check_alpha, check_count, clopper_pearson_lower, clopper_pearson_upper

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
    "read_provenance",
    "read_rows",
    "row_from_result",
    "select_indices",
]
