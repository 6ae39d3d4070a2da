"""Split results: per split node, each variant's figures, significance and winner."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from outreach.kit.numbers import Percentage
from outreach.workflows.graph.schemas import VariantId, WinnerMetric


class VariantResultOut(BaseModel):
    variant_id: str
    name: str
    percentage: float = Field(description="The share of contacts the split sends to it")
    total_sent: int = Field(description="Contacts it reached: a touch after their assignment")
    total_delivered: int
    total_opened: int = Field(description="Of those reached, opened (people, not machines)")
    total_clicked: int
    total_replied: int
    total_converted: int
    total_unsubscribed: int = Field(description="Unsubscribes and spam complaints")
    total_bounced: int = Field(description="Hard bounces, and soft ones out of retries")
    delivery_rate: Percentage = Field(description="total_delivered / total_sent, %")
    open_rate: Percentage
    click_rate: Percentage
    reply_rate: Percentage
    conversion_rate: Percentage
    engagement_score: Percentage = Field(
        description="open_rate * 0.3 + click_rate * 0.4 + reply_rate * 0.3"
    )
    p_value: float = Field(
        description="The leader's: its largest p-value against each other variant (it must "
        "beat every one); another variant's: against the leader; 1 without a single leader"
    )
    confidence_level: Percentage = Field(description="(1 - p_value) * 100")
    is_statistically_significant: bool = Field(
        description="confidence_level reaches the split's confidence_threshold"
    )
    is_winner: bool = Field(description="Declared the winner (by hand or automatically)")


class SplitTestOut(BaseModel):
    node_id: str
    label: str
    winner_metric: WinnerMetric
    minimum_sample_size: int
    confidence_threshold: float
    auto_select_winner: bool
    test_started_at: datetime | None = Field(description="When the first contact was assigned")
    winner: str | None = Field(description="The declared winner: new arrivals all take it")
    winner_declared_at: datetime | None
    recommended_winner: str | None = Field(
        description="The variant the winner rule names now (minimum sample reached by every "
        "variant, confidence at the threshold), declared or not"
    )
    reason: str = Field(description="Why there is no winner by the rule yet, or why this one")
    variants: list[VariantResultOut]


class AbTestsOut(BaseModel):
    campaign_id: uuid.UUID
    version: int | None = Field(description="The published version whose splits these are")
    splits: list[SplitTestOut]


class WinnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: VariantId
