"""a2.report.check is what fails the build when a derivation is wrong."""
import math

import pytest

from a2.report import CheckFailed, check


def test_check_passes_agreeing_values_and_returns_the_largest_gap():
    assert check("agree", [1.0, 2.0], [1.0, 2.0 + 1e-12]) == pytest.approx(
        1e-12, abs=1e-15)


@pytest.mark.parametrize("derived, independent", [
    ([1.0, 2.0], [1.0, 2.1]),  # values disagree
    ([1.0, 2.0], [1.0, 2.0, 3.0]),  # shapes disagree
    ([math.nan], [1.0]),  # NaN never agrees
])
def test_check_raises_when_derivation_and_computation_disagree(
        derived, independent):
    with pytest.raises(CheckFailed):
        check("disagree", derived, independent)
