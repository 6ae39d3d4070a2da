"""A/B test verdicts: each variant's rates, two-proportion tests, and the spec's winner rules.

Pure arithmetic, no database. The three comparisons (response rate, conversion rate, overall
rate) each get a pooled two-proportion z-test; the recommended winner is the conversion-rate
one, and no comparison names a winner until the spec's minimums hold.
"""

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Literal

from outreach.campaigns.rules import percentage

Variant = Literal["A", "B"]

MIN_CONTACTS_PER_VARIANT = 100
MIN_RESPONSES_IN_ALL = 30
SIGNIFICANCE_LEVEL = 0.05


@dataclass(frozen=True)
class VariantCounts:
    """A variant's contacts and how many of them responded, converted, and did both.

    A conversion can be recorded for a contact with no recorded response (a manual event);
    the conversion rate is a proportion of the responses, so only `converted_responders`
    count towards it, while `conversions` counts towards the overall rate.
    """

    contacts: int
    responses: int
    conversions: int
    converted_responders: int


@dataclass(frozen=True)
class ProportionTest:
    z: float
    p_value: float


def two_proportion_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> ProportionTest:
    """Two-sided pooled z-test of successes_a/trials_a against successes_b/trials_b.

    Its p-value is that of Pearson's chi-square test without continuity correction on the
    2x2 table (chi-square = z squared). Written with `math`: one closed formula, while importing
    scipy costs about a second (sequence splits, which need more tests, load it on first use;
    scipy checks this formula in the tests).
    """
    successes = successes_a + successes_b
    trials = trials_a + trials_b
    failures = trials - successes
    if trials_a == 0 or trials_b == 0 or successes == 0 or failures == 0:
        # A variant with nothing to measure, or all successes or all failures: no evidence.
        return ProportionTest(z=0.0, p_value=1.0)
    # z = (pa - pb) / sqrt(pooled * (1 - pooled) * (1/na + 1/nb)), rearranged so that the
    # difference and the variance are exact integers: no cancellation, p-values exact to ulps.
    difference = successes_a * trials_b - successes_b * trials_a
    z = difference * math.sqrt(trials / (trials_a * trials_b * successes * failures))
    # erfc rather than 1 - erf: small p-values keep their precision.
    return ProportionTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


@dataclass(frozen=True)
class VariantStats:
    contacts: int
    responses: int
    conversions: int
    response_rate: Decimal
    conversion_rate: Decimal
    overall_rate: Decimal

    @classmethod
    def of(cls, counts: VariantCounts) -> "VariantStats":
        return cls(
            contacts=counts.contacts,
            responses=counts.responses,
            conversions=counts.conversions,
            response_rate=percentage(counts.responses, counts.contacts),
            conversion_rate=percentage(counts.converted_responders, counts.responses),
            overall_rate=percentage(counts.conversions, counts.contacts),
        )


@dataclass(frozen=True)
class Comparison:
    """One metric compared between the variants; `winner` is the leader once the spec's
    minimums hold and the difference is significant."""

    leader: Variant | None  # None: the same rate
    difference: Decimal  # the leader's rate minus the other's, in percentage points
    z: float
    p_value: float
    confidence: Decimal  # (1 - p) as a percentage
    significant: bool
    winner: Variant | None


def _compare(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    minimums_met: bool,
) -> Comparison:
    rate_a = Fraction(successes_a, trials_a) if trials_a else Fraction(0)
    rate_b = Fraction(successes_b, trials_b) if trials_b else Fraction(0)
    leader: Variant | None = "A" if rate_a > rate_b else "B" if rate_b > rate_a else None
    shown_a, shown_b = percentage(successes_a, trials_a), percentage(successes_b, trials_b)
    test = two_proportion_test(successes_a, trials_a, successes_b, trials_b)
    significant = test.p_value < SIGNIFICANCE_LEVEL
    return Comparison(
        leader=leader,
        # Of the rates as shown, so that the figures a reader sees add up.
        difference=abs(shown_a - shown_b),
        z=test.z,
        p_value=test.p_value,
        confidence=Decimal((1 - test.p_value) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP),
        significant=significant,
        winner=leader if minimums_met and significant else None,
    )


class NoWinnerReason(StrEnum):
    NOT_ENOUGH_CONTACTS = "not_enough_contacts"
    NOT_ENOUGH_RESPONSES = "not_enough_responses"
    TIE = "tie"
    NOT_SIGNIFICANT = "not_significant"


@dataclass(frozen=True)
class Variants:
    A: VariantStats
    B: VariantStats


@dataclass(frozen=True)
class Comparisons:
    by_response_rate: Comparison
    by_conversion_rate: Comparison
    by_overall: Comparison


@dataclass(frozen=True)
class AbTestResult:
    variants: Variants
    comparisons: Comparisons
    minimums_met: bool
    winner: Variant | None
    reason: NoWinnerReason | None
    summary: str


def evaluate(a: VariantCounts, b: VariantCounts) -> AbTestResult:
    """The verdict of the spec: the winner by conversion rate, once each variant has 100
    contacts, the test has 30 responses in all, and p < 0.05."""
    minimums_met = (
        a.contacts >= MIN_CONTACTS_PER_VARIANT
        and b.contacts >= MIN_CONTACTS_PER_VARIANT
        and a.responses + b.responses >= MIN_RESPONSES_IN_ALL
    )
    comparisons = Comparisons(
        by_response_rate=_compare(
            a.responses, a.contacts, b.responses, b.contacts, minimums_met=minimums_met
        ),
        by_conversion_rate=_compare(
            a.converted_responders,
            a.responses,
            b.converted_responders,
            b.responses,
            minimums_met=minimums_met,
        ),
        by_overall=_compare(
            a.conversions, a.contacts, b.conversions, b.contacts, minimums_met=minimums_met
        ),
    )
    variants = Variants(A=VariantStats.of(a), B=VariantStats.of(b))
    winner = comparisons.by_conversion_rate.winner
    if winner:
        reason, summary = None, _winner_summary(variants, comparisons, winner)
    else:
        reason, summary = _why_no_winner(a, b, variants, comparisons.by_conversion_rate)
    return AbTestResult(
        variants=variants,
        comparisons=comparisons,
        minimums_met=minimums_met,
        winner=winner,
        reason=reason,
        summary=summary,
    )


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3g}"


def _winner_summary(variants: Variants, comparisons: Comparisons, winner: Variant) -> str:
    """The spec's display: both variants' rates, the winner marked, and its lead."""
    lines = [
        f"Variant {name}: {stats.response_rate}% response rate, "
        f"{stats.conversion_rate}% conversion rate" + (" ✓ WINNER" if name == winner else "")
        for name, stats in (("A", variants.A), ("B", variants.B))
    ]
    won, lost = (variants.A, variants.B) if winner == "A" else (variants.B, variants.A)
    lines.append(
        f"Difference: {won.response_rate - lost.response_rate:+}% response rate, "
        f"{won.conversion_rate - lost.conversion_rate:+}% conversion rate "
        f"({_p(comparisons.by_conversion_rate.p_value)})"
    )
    return "\n".join(lines)


def _why_no_winner(
    a: VariantCounts, b: VariantCounts, variants: Variants, deciding: Comparison
) -> tuple[NoWinnerReason, str]:
    """The first rule of the spec that is not met yet, and a sentence saying so."""
    needed = MIN_CONTACTS_PER_VARIANT
    if a.contacts < needed and b.contacts < needed:
        return NoWinnerReason.NOT_ENOUGH_CONTACTS, (
            f"No winner yet: variant A has {a.contacts} contacts and variant B has "
            f"{b.contacts}, {needed} each are needed."
        )
    if a.contacts < needed or b.contacts < needed:
        name, contacts = ("A", a.contacts) if a.contacts < needed else ("B", b.contacts)
        return NoWinnerReason.NOT_ENOUGH_CONTACTS, (
            f"No winner yet: variant {name} has {contacts} contacts, {needed} are needed."
        )
    responses = a.responses + b.responses
    if responses < MIN_RESPONSES_IN_ALL:
        return NoWinnerReason.NOT_ENOUGH_RESPONSES, (
            f"No winner yet: {responses} responses in all, {MIN_RESPONSES_IN_ALL} are needed."
        )
    if deciding.leader is None:
        return NoWinnerReason.TIE, (
            f"No winner yet: both variants have a {variants.A.conversion_rate}% conversion rate."
        )
    return NoWinnerReason.NOT_SIGNIFICANT, (
        f"No winner yet: variant {deciding.leader} leads on conversion rate by "
        f"{deciding.difference} points, but the difference is not significant "
        f"({_p(deciding.p_value)}, p < {SIGNIFICANCE_LEVEL} is needed)."
    )
