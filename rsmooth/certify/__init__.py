"""Certification core: statistics, the sampling engine, result rows (pure core)."""

from rsmooth.certify.results import CertificationRow, ResultsWriter, read_rows, select_indices
from rsmooth.certify.smooth import ABSTAIN, Certificate, Prediction, Smooth, check_unit_interval
from rsmooth.certify.stats import clopper_pearson_lower, clopper_pearson_upper

__all__ = [
    "ABSTAIN",
    "Certificate",
    "CertificationRow",
    "Prediction",
    "ResultsWriter",
    "Smooth",
    "check_unit_interval",
    "clopper_pearson_lower",
    "clopper_pearson_upper",
    "read_rows",
    "select_indices",
]
