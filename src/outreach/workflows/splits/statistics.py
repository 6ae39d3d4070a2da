"""A split's figures per variant, its significance on the winner metric, and the winner rule
(drip-workflows.md, campaign_ab_test_results). Pure: the counts come from repository.py.

A variant's figures are those of the contacts it reached: those with a touch recorded after
they were assigned to it (an open of an earlier message is not the variant's). Rates are
percentages of them with two decimals; engagement_score = open_rate 0.3 + click_rate 0.4 +
reply_rate 0.3, which is also the mean of the per-contact scores 30 opened + 40 clicked +
30 replied (what the t-test compares).

The significance question is whether the leader on the metric beats every other variant: it
is tested against each (a 2x2 chi-square for a rate, Welch's t-test for the engagement
score), and its p-value is the largest of those. That is an intersection-union test, valid
without a multiplicity correction; an omnibus test over all variants would answer another
question (do they differ at all?), and a bad third variant could make it significant while
the two best tie.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from outreach.workflows.graph.schemas import ABTestConfig, SplitConfig, WinnerMetric

TWO_PLACES = Decimal("0.01")
P_PLACES = Decimal("0.00000001")  # p_value DECIMAL(10, 8)
WEIGHTS = {"opened": 30, "clicked": 40, "replied": 30}  # per contact, in percentage points
NO_EVIDENCE = 1.0


@dataclass(frozen=True)
class Outcome:
    """How many contacts a variant reached had this combination of engagements (after their
    assignment, human events only)."""

    contacts: int
    delivered: bool = False
    opened: bool = False
    clicked: bool = False
    replied: bool = False
    converted: bool = False
    unsubscribed: bool = False
    bounced: bool = False

    @property
    def engagement(self) -> int:
        return sum(weight for name, weight in WEIGHTS.items() if getattr(self, name))


def percentage(part: int, whole: int) -> Decimal:
    """part / whole in percent, two decimals (half up); 0 of nothing is 0."""
    if not whole:
        return Decimal("0.00")
    return (Decimal(part) * 100 / whole).quantize(TWO_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class VariantFigures:
    variant_id: str
    total_sent: int
    total_delivered: int
    total_opened: int
    total_clicked: int
    total_replied: int
    total_converted: int
    total_unsubscribed: int
    total_bounced: int

    @classmethod
    def of(cls, variant_id: str, outcomes: Sequence[Outcome]) -> "VariantFigures":
        def total(flag: str) -> int:
            return sum(o.contacts for o in outcomes if getattr(o, flag))

        return cls(
            variant_id=variant_id,
            total_sent=sum(o.contacts for o in outcomes),
            total_delivered=total("delivered"),
            total_opened=total("opened"),
            total_clicked=total("clicked"),
            total_replied=total("replied"),
            total_converted=total("converted"),
            total_unsubscribed=total("unsubscribed"),
            total_bounced=total("bounced"),
        )

    @property
    def delivery_rate(self) -> Decimal:
        return percentage(self.total_delivered, self.total_sent)

    @property
    def open_rate(self) -> Decimal:
        return percentage(self.total_opened, self.total_sent)

    @property
    def click_rate(self) -> Decimal:
        return percentage(self.total_clicked, self.total_sent)

    @property
    def reply_rate(self) -> Decimal:
        return percentage(self.total_replied, self.total_sent)

    @property
    def conversion_rate(self) -> Decimal:
        return percentage(self.total_converted, self.total_sent)

    @property
    def engagement_score(self) -> Decimal:
        score = self.open_rate * Decimal("0.3") + self.click_rate * Decimal("0.4")
        return (score + self.reply_rate * Decimal("0.3")).quantize(TWO_PLACES, ROUND_HALF_UP)


# The flag each rate metric counts.
RATE_FLAGS: dict[str, str] = {
    "open_rate": "opened",
    "click_rate": "clicked",
    "reply_rate": "replied",
    "conversion_rate": "converted",
}


def _value(metric: WinnerMetric, outcomes: Sequence[Outcome]) -> Fraction | None:
    """The metric of a variant, exact (ranks without rounding ties); None: nothing sent."""
    sent = sum(o.contacts for o in outcomes)
    if not sent:
        return None
    if metric == "engagement_score":
        return Fraction(sum(o.contacts * o.engagement for o in outcomes), sent)
    flag = RATE_FLAGS[metric]
    return Fraction(sum(o.contacts for o in outcomes if getattr(o, flag)), sent)


def pairwise_p_value(metric: WinnerMetric, a: Sequence[Outcome], b: Sequence[Outcome]) -> float:
    """Two-sided p-value of the difference between two variants on `metric`: Pearson's
    chi-square without Yates' correction on the 2x2 table of successes and failures for a
    rate (the correction is conservative to a fault at these sample sizes, and without it the
    test is the pooled two-proportion z-test analytics/ab_test.py uses), Welch's t-test on the
    per-contact scores for the engagement score. NO_EVIDENCE when the test is undefined."""
    # scipy.stats takes about a second to import: loaded on first use, not by every process
    # that imports the API.
    from scipy.stats import chi2_contingency, ttest_ind

    if metric == "engagement_score":
        samples = [_scores(outcomes) for outcomes in (a, b)]
        if any(len(sample) < 2 for sample in samples):
            return NO_EVIDENCE
        if all(min(sample) == max(sample) for sample in samples):
            # No spread on either side: the t statistic is infinite, or undefined on a tie.
            return 0.0 if samples[0][0] != samples[1][0] else NO_EVIDENCE
        return float(ttest_ind(samples[0], samples[1], equal_var=False).pvalue)
    flag = RATE_FLAGS[metric]
    table = [
        [sum(o.contacts for o in outcomes if getattr(o, flag)) for outcomes in (a, b)],
        [sum(o.contacts for o in outcomes if not getattr(o, flag)) for outcomes in (a, b)],
    ]
    if not all(map(sum, table)) or not all(table[0][i] + table[1][i] for i in (0, 1)):
        return NO_EVIDENCE  # no successes, or no failures, or a side with no contacts
    return float(chi2_contingency(table, correction=False).pvalue)


def _scores(outcomes: Sequence[Outcome]) -> list[int]:
    return [o.engagement for o in outcomes for _ in range(o.contacts)]


@dataclass(frozen=True)
class VariantVerdict:
    figures: VariantFigures
    # The leader's: against every other variant (the largest of its p-values); another
    # variant's: against the leader. NO_EVIDENCE without a single leader.
    p_value: float
    is_statistically_significant: bool

    @property
    def confidence_level(self) -> Decimal:
        return confidence(self.p_value)

    @property
    def rounded_p_value(self) -> Decimal:
        return Decimal(self.p_value).quantize(P_PLACES, ROUND_HALF_UP)


def confidence(p_value: float) -> Decimal:
    return Decimal((1 - p_value) * 100).quantize(TWO_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class SplitVerdict:
    variants: list[VariantVerdict]
    leader: str | None
    winner: str | None  # the variant the rule names now, if any
    reason: str  # why there is no winner yet, or why this one


def test_of(config: SplitConfig) -> ABTestConfig:
    """The split's test; a split without one is still measured, by ABTestConfig's defaults,
    but never gets a winner automatically."""
    return config.ab_test or ABTestConfig(enabled=False)


def judge(config: SplitConfig, outcomes: Mapping[str, Sequence[Outcome]]) -> SplitVerdict:
    """Each variant's figures and significance, and whether the winner rule holds: every
    variant that takes contacts (percentage above 0) reached at least `minimum_sample_size`
    contacts, one variant leads on the metric, and it beats every other with a confidence of
    at least `confidence_threshold` (declaring it is the service's)."""
    test = test_of(config)
    metric = test.winner_metric
    live = [v.id for v in config.variants if v.percentage > 0]
    values = {v.id: _value(metric, outcomes.get(v.id, ())) for v in config.variants}
    known = {vid: value for vid, value in values.items() if value is not None}
    best = max(known.values(), default=None)
    leaders = [vid for vid, value in known.items() if value == best]
    leader = leaders[0] if len(leaders) == 1 else None

    p_values = dict.fromkeys(values, NO_EVIDENCE)
    if leader is not None:
        against = {
            vid: pairwise_p_value(metric, outcomes.get(leader, ()), outcomes.get(vid, ()))
            for vid in live
            if vid != leader
        }
        p_values.update(against)
        p_values[leader] = max(against.values(), default=NO_EVIDENCE)

    def significant(vid: str) -> bool:
        return (1 - p_values[vid]) * 100 >= test.confidence_threshold

    figures = {v.id: VariantFigures.of(v.id, outcomes.get(v.id, ())) for v in config.variants}
    short = [vid for vid in live if figures[vid].total_sent < test.minimum_sample_size]
    if short:
        reason = (
            f"{len(short)} of {len(live)} variants reached fewer than "
            f"{test.minimum_sample_size} contacts"
        )
    elif leader is None:
        reason = f"no single variant leads on {metric}"
    elif not significant(leader):
        reason = (
            f"variant {leader} leads on {metric} with {confidence(p_values[leader])}% "
            f"confidence, {test.confidence_threshold}% is needed"
        )
    else:
        reason = (
            f"variant {leader} leads on {metric} with {confidence(p_values[leader])}% confidence"
        )
    winner = leader if leader is not None and not short and significant(leader) else None
    return SplitVerdict(
        variants=[
            VariantVerdict(
                figures=figures[v.id],
                p_value=p_values[v.id],
                is_statistically_significant=significant(v.id),
            )
            for v in config.variants
        ],
        leader=leader,
        winner=winner,
        reason=reason,
    )
