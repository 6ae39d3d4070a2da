"""Analytics response bodies."""

from pydantic import BaseModel, ConfigDict, Field

from outreach.analytics.ab_test import NoWinnerReason, Variant
from outreach.kit.numbers import Percentage


class _FromResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class VariantStatsOut(_FromResult):
    contacts: int = Field(description="Contacts assigned to the variant")
    responses: int = Field(description="Contacts who responded")
    conversions: int = Field(description="Contacts who converted")
    response_rate: Percentage = Field(description="responses / contacts, %")
    conversion_rate: Percentage = Field(
        description="conversions / responses, %: the conversions of contacts who responded"
    )
    overall_rate: Percentage = Field(description="conversions / contacts, %")


class VariantsOut(_FromResult):
    A: VariantStatsOut
    B: VariantStatsOut


class ComparisonOut(_FromResult):
    """One rate compared by a two-sided pooled two-proportion z-test (the same p-value as
    Pearson's chi-square test without continuity correction on the 2x2 table)."""

    leader: Variant | None = Field(description="The variant with the higher rate; null: equal")
    difference: Percentage = Field(description="The leader's rate minus the other's, in points")
    z: float
    p_value: float
    confidence: Percentage = Field(description="(1 - p_value) as a percentage")
    significant: bool = Field(description="p_value < 0.05")
    winner: Variant | None = Field(
        description="The leader, once the minimums are met and the difference is significant"
    )


class ComparisonsOut(_FromResult):
    by_response_rate: ComparisonOut = Field(description="Responses out of contacts")
    by_conversion_rate: ComparisonOut = Field(
        description="Conversions out of responses: decides the winner"
    )
    by_overall: ComparisonOut = Field(description="Conversions out of contacts")


class AbTestOut(_FromResult):
    """An A/B test's figures per variant and its verdict."""

    variants: VariantsOut
    comparisons: ComparisonsOut
    minimums_met: bool = Field(
        description="Each variant has at least 100 contacts and there are at least 30 "
        "responses in all"
    )
    winner: Variant | None = Field(
        description="The winner by conversion rate (the business outcome), or null"
    )
    reason: NoWinnerReason | None = Field(description="Why there is no winner yet")
    summary: str = Field(description="The verdict in plain words, as the UI displays it")
