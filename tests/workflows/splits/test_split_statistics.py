"""A split's figures, significance (checked against scipy on known tables) and winner rule."""

from decimal import Decimal
from typing import Any

import pytest
from scipy.stats import chi2_contingency, ttest_ind

from outreach.workflows.graph.schemas import SplitConfig
from outreach.workflows.splits.statistics import (
    NO_EVIDENCE,
    Outcome,
    VariantFigures,
    judge,
    pairwise_p_value,
)


def rate(successes: int, sent: int, flag: str = "opened") -> list[Outcome]:
    """`sent` contacts, `successes` of them with `flag`."""
    return [Outcome(successes, **{flag: True}), Outcome(sent - successes)]


def split(*shares: float, **test: Any) -> SplitConfig:
    return SplitConfig.model_validate(
        {
            "variants": [
                {"id": chr(ord("a") + i), "percentage": share} for i, share in enumerate(shares)
            ],
            "ab_test": {"minimum_sample_size": 100, **test},
        }
    )


def test_figures_count_each_engagement_of_the_contacts_reached() -> None:
    outcomes = [
        Outcome(5, delivered=True, opened=True, clicked=True, replied=True),
        Outcome(15, delivered=True, opened=True),
        Outcome(3, bounced=True),
        Outcome(1, delivered=True, unsubscribed=True, converted=True),
        Outcome(76, delivered=True),
    ]
    figures = VariantFigures.of("a", outcomes)
    assert (figures.total_sent, figures.total_delivered, figures.total_opened) == (100, 97, 20)
    assert (figures.total_clicked, figures.total_replied, figures.total_converted) == (5, 5, 1)
    assert (figures.total_unsubscribed, figures.total_bounced) == (1, 3)


def test_rates_are_percentages_of_the_sent_with_two_decimals() -> None:
    figures = VariantFigures.of("a", [Outcome(1, opened=True), Outcome(2)])
    assert figures.open_rate == Decimal("33.33")
    assert VariantFigures.of("a", [Outcome(2, opened=True), Outcome(1)]).open_rate == Decimal(
        "66.67"
    )
    assert VariantFigures.of("a", []).open_rate == Decimal("0.00")


def test_engagement_score_weighs_open_click_and_reply_rates() -> None:
    outcomes = [
        Outcome(50, opened=True),
        Outcome(20, opened=True, clicked=True),
        Outcome(10, opened=True, replied=True),
        Outcome(20),
    ]
    figures = VariantFigures.of("a", outcomes)
    # 80% opened, 20% clicked, 10% replied
    assert figures.engagement_score == Decimal("35.00")  # 24 + 8 + 3


def test_a_rate_is_tested_by_chi_square_without_correction() -> None:
    a, b = rate(30, 200), rate(50, 210)
    expected = chi2_contingency([[30, 50], [170, 160]], correction=False).pvalue
    assert pairwise_p_value("open_rate", a, b) == pytest.approx(expected, rel=1e-12)
    replies = pairwise_p_value("reply_rate", rate(30, 200, "replied"), rate(50, 210, "replied"))
    assert replies == pytest.approx(expected, rel=1e-12)


def test_the_engagement_score_is_tested_by_welchs_t_test_on_per_contact_scores() -> None:
    a = [Outcome(40, opened=True), Outcome(10, opened=True, clicked=True), Outcome(50)]
    b = [Outcome(30, opened=True), Outcome(5, opened=True, replied=True), Outcome(85)]
    scores_a = [30] * 40 + [70] * 10 + [0] * 50
    scores_b = [30] * 30 + [60] * 5 + [0] * 85
    expected = ttest_ind(scores_a, scores_b, equal_var=False).pvalue
    assert pairwise_p_value("engagement_score", a, b) == pytest.approx(expected, rel=1e-12)


def test_a_test_without_successes_failures_or_contacts_is_no_evidence() -> None:
    assert pairwise_p_value("open_rate", rate(0, 100), rate(0, 100)) == NO_EVIDENCE
    assert pairwise_p_value("open_rate", rate(100, 100), rate(100, 100)) == NO_EVIDENCE
    assert pairwise_p_value("open_rate", rate(10, 100), []) == NO_EVIDENCE
    assert pairwise_p_value("engagement_score", [Outcome(1, opened=True)], rate(5, 9)) == 1.0


def test_engagement_scores_without_spread_are_decided_by_their_means() -> None:
    everyone, no_one = [Outcome(50, opened=True)], [Outcome(50)]
    assert pairwise_p_value("engagement_score", everyone, no_one) == 0.0
    assert pairwise_p_value("engagement_score", no_one, no_one) == NO_EVIDENCE


def test_confidence_is_one_minus_p_in_percent() -> None:
    verdict = judge(split(50, 50), {"a": rate(30, 200), "b": rate(50, 210)})
    p = chi2_contingency([[50, 30], [160, 170]], correction=False).pvalue
    leader = verdict.variants[1]
    assert leader.p_value == pytest.approx(p)
    assert leader.confidence_level == Decimal((1 - p) * 100).quantize(Decimal("0.01"))
    assert leader.rounded_p_value == Decimal(p).quantize(Decimal("0.00000001"))


def test_the_winner_is_the_leader_once_samples_and_confidence_suffice() -> None:
    verdict = judge(split(50, 50), {"a": rate(20, 200), "b": rate(60, 200)})
    assert verdict.winner == "b"
    assert all(v.is_statistically_significant for v in verdict.variants)


def test_no_winner_before_every_variant_has_the_minimum_sample() -> None:
    verdict = judge(split(50, 50), {"a": rate(5, 99), "b": rate(60, 200)})
    assert verdict.leader == "b"
    assert verdict.winner is None
    assert "fewer than 100 contacts" in verdict.reason


def test_no_winner_below_the_confidence_threshold() -> None:
    verdict = judge(split(50, 50), {"a": rate(30, 200), "b": rate(50, 210)})  # p about 0.03
    assert verdict.winner == "b"
    strict = judge(split(50, 50, confidence_threshold=99), {"a": rate(30, 200), "b": rate(50, 210)})
    assert strict.winner is None
    assert "99.0% is needed" in strict.reason


def test_no_winner_on_a_tie() -> None:
    verdict = judge(split(50, 50), {"a": rate(50, 200), "b": rate(50, 200)})
    assert (verdict.leader, verdict.winner) == (None, None)
    assert all(v.p_value == NO_EVIDENCE for v in verdict.variants)


def test_the_leader_must_beat_every_other_variant() -> None:
    close_second = {"a": rate(60, 200), "b": rate(58, 200), "c": rate(10, 200)}
    verdict = judge(split(40, 30, 30), close_second)
    assert verdict.leader == "a"
    assert verdict.winner is None
    a, b, c = verdict.variants
    assert a.p_value == pytest.approx(pairwise_p_value("open_rate", rate(60, 200), rate(58, 200)))
    assert c.is_statistically_significant
    assert not b.is_statistically_significant


def test_a_zero_percent_variant_neither_blocks_nor_counts() -> None:
    verdict = judge(split(50, 50, 0), {"a": rate(20, 200), "b": rate(60, 200)})
    assert verdict.winner == "b"
    assert verdict.variants[2].p_value == NO_EVIDENCE


def test_the_winner_metric_decides_the_leader() -> None:
    outcomes = {
        "a": [Outcome(150, opened=True), Outcome(50)],
        "b": [Outcome(60, opened=True, clicked=True), Outcome(140)],
    }
    assert judge(split(50, 50, winner_metric="open_rate"), outcomes).winner == "a"
    assert judge(split(50, 50, winner_metric="click_rate"), outcomes).winner == "b"
    assert judge(split(50, 50, winner_metric="engagement_score"), outcomes).leader == "a"
