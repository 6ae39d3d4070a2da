"""Campaign rules that need no database."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from outreach.campaigns.rules import percentage


@pytest.mark.parametrize(
    ("part", "whole"), [(1, 3), (2, 3), (1, 8), (3, 8), (7, 7), (9, 4), (0, 5)]
)
def test_percentages_have_two_decimals_rounded_half_up_and_capped_at_100(
    part: int, whole: int
) -> None:
    exact = Decimal(part * 100) / Decimal(whole)
    expected = min(Decimal(100), exact).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert percentage(part, whole) == expected
    assert len(str(percentage(part, whole)).split(".")[1]) == 2


def test_a_percentage_of_nothing_is_zero() -> None:
    assert str(percentage(0, 0)) == "0.00"
    assert str(percentage(3, None)) == "0.00"
