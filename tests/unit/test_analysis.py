import math

import pytest

from rsmooth.analysis import (
    accuracy_lower_bound,
    average_certified_radius,
    best_envelope,
    certified_accuracy,
    markdown_table,
    radius_grid,
)
from rsmooth.results import CertificationRow


def _rows() -> list[CertificationRow]:
    # (predict, label, radius): correct 0.5, correct 0.2, wrong 0.9, abstain
    spec = [(1, 1, 0.5), (2, 2, 0.2), (3, 4, 0.9), (-1, 0, 0.0)]
    return [CertificationRow(i, lab, p, r, p == lab, 1.0) for i, (p, lab, r) in enumerate(spec)]


def test_certified_accuracy_counts_correct_with_radius_at_least_r() -> None:
    assert certified_accuracy(_rows(), [0.0, 0.2, 0.3, 0.5, 0.6]) == [0.5, 0.5, 0.25, 0.25, 0.0]


def test_acr_averages_radius_of_correct_examples_over_all() -> None:
    assert average_certified_radius(_rows()) == pytest.approx((0.5 + 0.2) / 4)


def test_appendix_d_lower_bound_formula() -> None:
    y, m, a, rho = 400, 500, 0.001, 0.001
    expected = (y / m - a - math.sqrt(2 * a * (1 - a) * math.log(1 / rho) / m) - math.log(1 / rho) / (3 * m)) / (1 - a)
    assert accuracy_lower_bound(y, m, a, rho) == pytest.approx(expected)
    assert accuracy_lower_bound(0, m, a, rho) == 0.0
    assert accuracy_lower_bound(y, m, a, rho) < y / m


def test_envelope_and_grid() -> None:
    assert best_envelope({"a": [0.9, 0.1], "b": [0.5, 0.4]}) == [0.9, 0.4]
    with pytest.raises(ValueError, match="grid"):
        best_envelope({"a": [1.0], "b": [1.0, 2.0]})
    assert radius_grid(1.5, 0.25) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]


def test_markdown_table_layout() -> None:
    md = markdown_table({"run": [0.5, 0.25]}, [0.0, 0.5], extra={"run": {"ACR": 0.175}})
    lines = md.strip().splitlines()
    # rounded down at 3 decimals from the float's exact value: 0.175 is 0.17499999999999998889776975...
    assert lines[0] == "| run | r=0 | r=0.5 | ACR |" and lines[2] == "| run | 0.500 | 0.250 | 0.174 |"
    assert lines[-1] == "numbers rounded down to 3 decimals."
