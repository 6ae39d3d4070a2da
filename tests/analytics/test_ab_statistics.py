"""A/B statistics: the p-value against scipy, the spec's minimums, the verdict and its sentence."""

import math
import random
from collections.abc import Iterator
from decimal import Decimal

import pytest
from scipy.stats import chi2_contingency

from outreach.analytics.ab_test import (
    NoWinnerReason,
    VariantCounts,
    evaluate,
    two_proportion_test,
)


def counts(contacts: int, responses: int, conversions: int) -> VariantCounts:
    """A variant whose conversions all come from contacts who responded."""
    return VariantCounts(contacts, responses, conversions, converted_responders=conversions)


def random_tables(count: int) -> Iterator[tuple[int, int, int, int]]:
    """(successes_a, trials_a, successes_b, trials_b): half small tables with their edge
    cases, half of the sizes A/B tests have."""
    rng = random.Random(20261123)
    for i in range(count):
        most = 12 if i % 2 else 5_000
        trials_a, trials_b = rng.randint(0, most), rng.randint(0, most)
        yield rng.randint(0, trials_a), trials_a, rng.randint(0, trials_b), trials_b


def test_p_value_equals_pearson_chi_square_without_continuity_correction() -> None:
    compared = 0
    for successes_a, trials_a, successes_b, trials_b in random_tables(2_000):
        successes = successes_a + successes_b
        failures = trials_a + trials_b - successes
        if 0 in (trials_a, trials_b, successes, failures):
            continue  # a zero row or column sum: scipy refuses it (see the degenerate tests)
        table = [
            [successes_a, trials_a - successes_a],
            [successes_b, trials_b - successes_b],
        ]
        expected = chi2_contingency(table, correction=False).pvalue
        actual = two_proportion_test(successes_a, trials_a, successes_b, trials_b).p_value
        # abs_tol only for p-values so small that floats hold them with few digits
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-300), table
        compared += 1
    assert compared > 1_700


@pytest.mark.parametrize(
    ("successes_a", "trials_a", "successes_b", "trials_b"),
    [
        pytest.param(0, 0, 5, 100, id="no trials in A"),
        pytest.param(5, 100, 0, 0, id="no trials in B"),
        pytest.param(0, 0, 0, 0, id="no trials at all"),
        pytest.param(0, 100, 0, 120, id="all failures"),
        pytest.param(100, 100, 120, 120, id="all successes"),
    ],
)
def test_a_table_with_an_empty_row_or_column_has_p_one(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> None:
    test = two_proportion_test(successes_a, trials_a, successes_b, trials_b)

    assert (test.z, test.p_value) == (0.0, 1.0)


def test_z_is_positive_when_a_has_the_higher_rate() -> None:
    assert two_proportion_test(30, 100, 20, 100).z > 0
    assert two_proportion_test(20, 100, 30, 100).z < 0


def test_rates_are_percentages_with_two_decimals() -> None:
    variant = evaluate(counts(300, 45, 7), counts(300, 0, 0)).variants

    assert variant.A.response_rate == Decimal("15.00")
    assert variant.A.conversion_rate == Decimal("15.56")  # 7 / 45
    assert variant.A.overall_rate == Decimal("2.33")  # 7 / 300
    assert (variant.B.response_rate, variant.B.conversion_rate) == (Decimal("0.00"),) * 2


def test_conversion_rate_counts_only_conversions_of_contacts_who_responded() -> None:
    a = VariantCounts(contacts=200, responses=20, conversions=25, converted_responders=10)

    stats = evaluate(a, counts(200, 20, 10)).variants.A

    assert (stats.conversion_rate, stats.overall_rate) == (Decimal("50.00"), Decimal("12.50"))


def test_winner_with_100_contacts_per_variant_and_30_responses() -> None:
    result = evaluate(counts(100, 15, 15), counts(100, 15, 2))

    assert result.minimums_met
    assert (result.winner, result.reason) == ("A", None)


def test_99_contacts_in_a_variant_gives_no_winner() -> None:
    result = evaluate(counts(100, 15, 15), counts(99, 15, 2))

    assert not result.minimums_met
    assert (result.winner, result.reason) == (None, NoWinnerReason.NOT_ENOUGH_CONTACTS)
    assert result.comparisons.by_conversion_rate.significant
    assert result.summary == "No winner yet: variant B has 99 contacts, 100 are needed."


def test_29_responses_in_all_give_no_winner() -> None:
    result = evaluate(counts(100, 15, 15), counts(100, 14, 2))

    assert not result.minimums_met
    assert (result.winner, result.reason) == (None, NoWinnerReason.NOT_ENOUGH_RESPONSES)
    assert result.summary == "No winner yet: 29 responses in all, 30 are needed."


def test_p_of_0_06_gives_no_winner() -> None:
    result = evaluate(counts(200, 100, 46), counts(200, 100, 33))

    deciding = result.comparisons.by_conversion_rate
    assert deciding.p_value == pytest.approx(0.06, abs=0.001)
    assert (deciding.leader, deciding.significant, deciding.winner) == ("A", False, None)
    assert deciding.confidence == Decimal("93.99")
    assert (result.winner, result.reason) == (None, NoWinnerReason.NOT_SIGNIFICANT)
    assert result.summary == (
        "No winner yet: variant A leads on conversion rate by 13.00 points, but the "
        "difference is not significant (p = 0.0601, p < 0.05 is needed)."
    )


def test_the_minimums_hold_back_every_verdict() -> None:
    result = evaluate(counts(99, 60, 50), counts(1_000, 60, 5))

    comparisons = result.comparisons
    for comparison in (
        comparisons.by_response_rate,
        comparisons.by_conversion_rate,
        comparisons.by_overall,
    ):
        assert comparison.significant
        assert comparison.winner is None


def test_the_winner_is_by_conversion_rate_when_response_rate_points_the_other_way() -> None:
    result = evaluate(counts(1_000, 100, 60), counts(1_000, 200, 40))

    comparisons = result.comparisons
    assert comparisons.by_response_rate.winner == "B"
    assert comparisons.by_conversion_rate.winner == "A"
    assert comparisons.by_overall.winner == "A"
    assert result.winner == "A"


def test_each_verdict_has_its_own_p_value() -> None:
    result = evaluate(counts(1_000, 100, 60), counts(1_000, 200, 40))

    comparisons = result.comparisons
    assert comparisons.by_response_rate.p_value == pytest.approx(
        two_proportion_test(100, 1_000, 200, 1_000).p_value
    )
    assert comparisons.by_conversion_rate.p_value == pytest.approx(
        two_proportion_test(60, 100, 40, 200).p_value
    )
    assert comparisons.by_overall.p_value == pytest.approx(
        two_proportion_test(60, 1_000, 40, 1_000).p_value
    )


def test_equal_conversion_rates_are_a_tie() -> None:
    result = evaluate(counts(400, 40, 10), counts(400, 80, 20))

    deciding = result.comparisons.by_conversion_rate
    assert (deciding.leader, deciding.difference, deciding.p_value) == (None, Decimal(0), 1.0)
    assert (result.winner, result.reason) == (None, NoWinnerReason.TIE)
    assert result.summary == "No winner yet: both variants have a 25.00% conversion rate."


def test_no_conversion_at_all_is_a_tie() -> None:
    result = evaluate(counts(400, 40, 0), counts(400, 80, 0))

    assert (result.winner, result.reason) == (None, NoWinnerReason.TIE)


def test_both_variants_short_of_contacts_are_named() -> None:
    result = evaluate(counts(50, 10, 5), counts(80, 30, 1))

    assert result.summary == (
        "No winner yet: variant A has 50 contacts and variant B has 80, 100 each are needed."
    )


def test_the_sentence_shows_both_variants_the_winner_and_its_lead() -> None:
    result = evaluate(counts(1_000, 152, 35), counts(1_000, 128, 16))

    assert result.winner == "A"
    assert result.summary == (
        "Variant A: 15.20% response rate, 23.03% conversion rate ✓ WINNER\n"
        "Variant B: 12.80% response rate, 12.50% conversion rate\n"
        "Difference: +2.40% response rate, +10.53% conversion rate (p = 0.023)"
    )


def test_the_sentence_shows_a_lead_the_winner_does_not_have_as_negative() -> None:
    result = evaluate(counts(1_000, 100, 60), counts(1_000, 200, 40))

    assert result.summary.splitlines()[2] == (
        "Difference: -10.00% response rate, +40.00% conversion rate (p < 0.001)"
    )
