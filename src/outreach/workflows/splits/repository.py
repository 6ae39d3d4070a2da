"""Split queries: the split nodes of a campaign's latest version, what happened to the contacts
of each variant, and `campaign_ab_test_results` (this package is its one writer)."""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.workflows.splits.statistics import Outcome, VariantVerdict


@dataclass(frozen=True)
class Campaign:
    id: uuid.UUID
    org_id: uuid.UUID
    owner_id: uuid.UUID
    version: int | None  # the published version; None: never published


_CAMPAIGN = text("""
SELECT c.id, c.org_id, c.owner_id, w.published_version AS version
FROM campaigns c
LEFT JOIN campaign_workflows w ON w.org_id = c.org_id AND w.campaign_id = c.id
WHERE c.id = :campaign_id AND c.deleted_at IS NULL
""")


async def get_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign | None:
    row = (await session.execute(_CAMPAIGN, {"campaign_id": campaign_id})).first()
    return Campaign(row.id, row.org_id, row.owner_id, row.version) if row else None


# -- name: split-outcomes. Per split node and variant, how many contacts the variant reached
# (a touch recorded after their assignment) had each combination of human engagements since.
# Each contact's events are read through its index (no sort of the campaign's events), so the
# cost follows the contacts that took variants.
_OUTCOMES = text("""
WITH assigned AS (
  SELECT s.org_id, s.campaign_contact_id, v.key AS node_id, v.value ->> 'variant' AS variant_id,
         (v.value ->> 'at')::timestamptz AS assigned_at
  FROM campaign_workflow_states s
  CROSS JOIN LATERAL jsonb_each(s.variants) AS v
  WHERE s.campaign_id = :campaign_id AND v.key = ANY(:node_ids)
)
SELECT a.node_id, a.variant_id, f.sent, f.delivered, f.opened, f.clicked, f.replied,
       f.converted, f.unsubscribed, f.bounced,
       count(*) AS contacts, min(a.assigned_at) AS first_assigned_at
FROM assigned a
CROSS JOIN LATERAL (
  SELECT
    coalesce(bool_or(e.event_type IN ('email_sent', 'sms_sent', 'linkedin_sent',
                                      'call_completed', 'letter_sent', 'delivered')), false)
      AS sent,
    coalesce(bool_or(e.event_type = 'delivered'), false) AS delivered,
    coalesce(bool_or(e.event_type IN ('opened', 'clicked')), false) AS opened,
    coalesce(bool_or(e.event_type = 'clicked'), false) AS clicked,
    coalesce(bool_or(e.event_type = 'response_received'), false) AS replied,
    coalesce(bool_or(e.event_type = 'converted'), false) AS converted,
    coalesce(bool_or(e.event_type IN ('unsubscribed', 'spam_reported')), false) AS unsubscribed,
    coalesce(bool_or(e.event_type = 'bounced' AND (e.event_data ->> 'bounce_type' = 'hard'
                                                   OR e.event_data ->> 'final' = 'true')), false)
      AS bounced
  FROM engagement_events e
  WHERE e.org_id = a.org_id AND e.campaign_contact_id = a.campaign_contact_id
    AND e.campaign_id = :campaign_id AND e.event_timestamp >= a.assigned_at
    AND NOT e.is_machine
) AS f
GROUP BY a.node_id, a.variant_id, f.sent, f.delivered, f.opened, f.clicked, f.replied,
         f.converted, f.unsubscribed, f.bounced
""")


@dataclass
class NodeOutcomes:
    """What happened at one split node: the outcomes of the contacts each variant reached,
    and when the first contact was assigned (the test's start)."""

    by_variant: dict[str, list[Outcome]]
    started_at: datetime | None = None


async def outcomes(
    session: AsyncSession, campaign_id: uuid.UUID, node_ids: Sequence[str]
) -> dict[str, NodeOutcomes]:
    nodes: dict[str, NodeOutcomes] = {
        node_id: NodeOutcomes(defaultdict(list)) for node_id in node_ids
    }
    rows = await session.execute(
        _OUTCOMES, {"campaign_id": campaign_id, "node_ids": list(node_ids)}
    )
    for row in rows:
        node = nodes[row.node_id]
        if node.started_at is None or row.first_assigned_at < node.started_at:
            node.started_at = row.first_assigned_at
        if row.sent:
            node.by_variant[row.variant_id].append(
                Outcome(
                    contacts=row.contacts,
                    delivered=row.delivered,
                    opened=row.opened,
                    clicked=row.clicked,
                    replied=row.replied,
                    converted=row.converted,
                    unsubscribed=row.unsubscribed,
                    bounced=row.bounced,
                )
            )
    return nodes


@dataclass(frozen=True)
class DeclaredWinner:
    node_id: str
    variant_id: str
    declared_at: datetime
    declared_by: uuid.UUID | None


_WINNERS = text("""
SELECT node_id, variant_id, winner_declared_at, winner_declared_by
FROM campaign_ab_test_results WHERE campaign_id = :campaign_id AND is_winner
""")


async def declared_winners(
    session: AsyncSession, campaign_id: uuid.UUID
) -> dict[str, DeclaredWinner]:
    """The declared winner of each split node of the campaign that has one."""
    rows = await session.execute(_WINNERS, {"campaign_id": campaign_id})
    return {
        row.node_id: DeclaredWinner(
            row.node_id, row.variant_id, row.winner_declared_at, row.winner_declared_by
        )
        for row in rows
    }


_WINNER = text("""
SELECT variant_id FROM campaign_ab_test_results
WHERE campaign_id = :campaign_id AND node_id = :node_id AND is_winner
""")


async def winner_for(session: AsyncSession, campaign_id: uuid.UUID, node_id: str) -> str | None:
    """The declared winner of the split node, if any (the engine sends new arrivals there)."""
    winner: str | None = await session.scalar(
        _WINNER, {"campaign_id": campaign_id, "node_id": node_id}
    )
    return winner


_STORE = text("""
INSERT INTO campaign_ab_test_results (
  org_id, campaign_id, node_id, variant_id, total_sent, total_delivered, total_opened,
  total_clicked, total_replied, total_converted, total_unsubscribed, total_bounced,
  delivery_rate, open_rate, click_rate, reply_rate, conversion_rate, engagement_score,
  confidence_level, p_value, is_statistically_significant, test_started_at)
VALUES (
  :org_id, :campaign_id, :node_id, :variant_id, :total_sent, :total_delivered, :total_opened,
  :total_clicked, :total_replied, :total_converted, :total_unsubscribed, :total_bounced,
  :delivery_rate, :open_rate, :click_rate, :reply_rate, :conversion_rate, :engagement_score,
  :confidence_level, :p_value, :is_statistically_significant, :test_started_at)
ON CONFLICT (org_id, campaign_id, node_id, variant_id) DO UPDATE SET
  total_sent = excluded.total_sent, total_delivered = excluded.total_delivered,
  total_opened = excluded.total_opened, total_clicked = excluded.total_clicked,
  total_replied = excluded.total_replied, total_converted = excluded.total_converted,
  total_unsubscribed = excluded.total_unsubscribed, total_bounced = excluded.total_bounced,
  delivery_rate = excluded.delivery_rate, open_rate = excluded.open_rate,
  click_rate = excluded.click_rate, reply_rate = excluded.reply_rate,
  conversion_rate = excluded.conversion_rate, engagement_score = excluded.engagement_score,
  confidence_level = excluded.confidence_level, p_value = excluded.p_value,
  is_statistically_significant = excluded.is_statistically_significant,
  test_started_at = excluded.test_started_at
""")


async def store_results(
    session: AsyncSession,
    campaign: Campaign,
    node_id: str,
    variants: Sequence[VariantVerdict],
    started_at: datetime | None,
) -> None:
    """Write the figures of each variant of the node (winner flags are left as they are)."""
    await session.execute(
        _STORE,
        [
            {
                "org_id": campaign.org_id,
                "campaign_id": campaign.id,
                "node_id": node_id,
                "variant_id": v.figures.variant_id,
                "total_sent": v.figures.total_sent,
                "total_delivered": v.figures.total_delivered,
                "total_opened": v.figures.total_opened,
                "total_clicked": v.figures.total_clicked,
                "total_replied": v.figures.total_replied,
                "total_converted": v.figures.total_converted,
                "total_unsubscribed": v.figures.total_unsubscribed,
                "total_bounced": v.figures.total_bounced,
                "delivery_rate": v.figures.delivery_rate,
                "open_rate": v.figures.open_rate,
                "click_rate": v.figures.click_rate,
                "reply_rate": v.figures.reply_rate,
                "conversion_rate": v.figures.conversion_rate,
                "engagement_score": v.figures.engagement_score,
                "confidence_level": v.confidence_level,
                "p_value": v.rounded_p_value,
                "is_statistically_significant": v.is_statistically_significant,
                "test_started_at": started_at,
            }
            for v in variants
        ],
    )


# -- name: declare-winner. Marks the variant the winner and ends the node's test; answers
# nothing when the node has a winner already. `winner_declared_at IS NULL` is rechecked on
# the row a concurrent declaration just committed (the subquery alone would not be).
_DECLARE = text("""
WITH ended AS (
  UPDATE campaign_ab_test_results
  SET is_winner = (variant_id = :variant_id), test_ended_at = now(),
      winner_declared_at = now(), winner_declared_by = :declared_by
  WHERE campaign_id = :campaign_id AND node_id = :node_id AND winner_declared_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM campaign_ab_test_results w
                    WHERE w.campaign_id = :campaign_id AND w.node_id = :node_id AND w.is_winner)
  RETURNING variant_id, is_winner, winner_declared_at
)
SELECT winner_declared_at FROM ended WHERE is_winner
""")


async def declare_winner(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    node_id: str,
    variant_id: str,
    declared_by: uuid.UUID | None,
) -> datetime | None:
    """Declare the winner of the node (its results must be stored); None: it had one."""
    declared: datetime | None = await session.scalar(
        _DECLARE,
        {
            "campaign_id": campaign_id,
            "node_id": node_id,
            "variant_id": variant_id,
            "declared_by": declared_by,
        },
    )
    return declared


# -- name: campaigns-with-splits. Campaigns whose contacts took variants, that may still get
# events (live, or completed in the last week), the least recently refreshed first.
_TO_REFRESH = text("""
SELECT c.id
FROM campaigns c
LEFT JOIN (SELECT campaign_id, min(updated_at) AS refreshed_at
           FROM campaign_ab_test_results GROUP BY campaign_id) r ON r.campaign_id = c.id
WHERE c.deleted_at IS NULL
  AND (c.status IN ('active', 'paused')
       OR (c.status = 'completed' AND c.completed_at > now() - interval '7 days'))
  AND EXISTS (SELECT 1 FROM campaign_workflow_states s
              WHERE s.org_id = c.org_id AND s.campaign_id = c.id AND s.variants <> '{}')
ORDER BY r.refreshed_at NULLS FIRST, c.id
LIMIT :limit
""")


async def campaigns_to_refresh(session: AsyncSession, limit: int) -> list[uuid.UUID]:
    return list((await session.scalars(_TO_REFRESH, {"limit": limit})).all())
