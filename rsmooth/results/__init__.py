"""What certification leaves behind: rows, the results file with its provenance, and certifying a
dataset into them (:func:`certify_examples`)."""

from rsmooth.results.examples import CertifiedExamples, certify_examples
from rsmooth.results.file import ResultsWriter, read_provenance, read_rows
from rsmooth.results.rows import CertificationRow, row_from_result

__all__ = [
    "CertificationRow",
    "CertifiedExamples",
    "ResultsWriter",
    "certify_examples",
    "read_provenance",
    "read_rows",
    "row_from_result",
]
