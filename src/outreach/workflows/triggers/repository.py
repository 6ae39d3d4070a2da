"""Queries of the triggers: the contact changes noted for them (`contact_trigger_signals`, whose
rows the database writes and this package consumes), the campaigns each trigger starts, and the
contacts a schedule enrolls."""

import json
import uuid
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import Campaign, CampaignVersion, CampaignWorkflow


@dataclass(frozen=True)
class Signal:
    contact_id: uuid.UUID
    added_tags: list[str]
    score_before: int | None
    score_after: int | None


# -- name: enrollable-members. Each campaign contact of `ids` with what decides whether and how
# it can be enrolled: its status, its email (for the do-not-contact list), whether the planner
# started it, its enrollment if it has one.
_MEMBERS = text("""
SELECT cc.id, cc.status, p.email, cc.started_at, cc.channel, s.id AS enrollment_id
FROM campaign_contacts cc
JOIN contacts p ON p.org_id = cc.org_id AND p.id = cc.contact_id
LEFT JOIN campaign_workflow_states s ON s.org_id = cc.org_id AND s.campaign_contact_id = cc.id
WHERE cc.campaign_id = :campaign_id AND cc.id = ANY(:ids)
""")

# -- name: unenrolled-members. The campaign's contacts without an enrollment, oldest first.
_UNENROLLED = text("""
SELECT cc.id FROM campaign_contacts cc
WHERE cc.campaign_id = :campaign_id
  AND NOT EXISTS (SELECT 1 FROM campaign_workflow_states s
                  WHERE s.org_id = cc.org_id AND s.campaign_contact_id = cc.id)
ORDER BY cc.created_at, cc.id
""")

# -- name: take-signals. Side effect: deletes the signals it answers (the caller's transaction
# keeps them if it rolls back); two workers take different ones.
_TAKE_SIGNALS = text("""
DELETE FROM contact_trigger_signals
WHERE (org_id, id) IN (SELECT org_id, id FROM contact_trigger_signals WHERE not_before <= :now
                       ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING contact_id, added_tags, score_before, score_after
""")
_NOTE_AGAIN = text("""
INSERT INTO contact_trigger_signals (org_id, contact_id, added_tags, score_before, score_after,
                                     not_before)
SELECT :org_id, s.contact_id, s.added_tags, s.score_before, s.score_after, :not_before
FROM jsonb_to_recordset(CAST(:signals AS jsonb))
  AS s (contact_id uuid, added_tags text[], score_before integer, score_after integer)
""")

# -- name: scheduled-candidates. Pending contacts without an enrollment that were in the campaign
# when the schedule last fired.
_SCHEDULED = text("""
SELECT cc.id FROM campaign_contacts cc
WHERE cc.campaign_id = :campaign_id AND cc.status = 'pending' AND cc.created_at <= :fired_at
  AND NOT EXISTS (SELECT 1 FROM campaign_workflow_states s
                  WHERE s.org_id = cc.org_id AND s.campaign_contact_id = cc.id)
ORDER BY cc.created_at, cc.id
LIMIT :limit
""")


@dataclass(frozen=True)
class MemberFacts:
    id: uuid.UUID
    status: str
    email: str | None
    started_at: datetime | None
    channel: str | None
    enrollment_id: uuid.UUID | None


async def members(
    session: AsyncSession, campaign_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, MemberFacts]:
    rows = await session.execute(_MEMBERS, {"campaign_id": campaign_id, "ids": list(ids)})
    return {row.id: MemberFacts(*row) for row in rows}


async def unenrolled_members(session: AsyncSession, campaign_id: uuid.UUID) -> list[uuid.UUID]:
    """The campaign's contacts without an enrollment, the longest in the campaign first."""
    return list((await session.execute(_UNENROLLED, {"campaign_id": campaign_id})).scalars())


async def take_signals(session: AsyncSession, now: datetime, limit: int) -> list[Signal]:
    rows = await session.execute(_TAKE_SIGNALS, {"now": now, "limit": limit})
    return [Signal(*row) for row in rows]


async def note_again(
    session: AsyncSession, org_id: uuid.UUID, signals: Sequence[Signal], not_before: datetime
) -> None:
    """These signals, to be taken again from `not_before` on."""
    if signals:
        rows = [asdict(signal) for signal in signals]
        await session.execute(
            _NOTE_AGAIN,
            {"org_id": org_id, "signals": json.dumps(rows, default=str), "not_before": not_before},
        )


def _trigger_of(kind: str) -> list[dict[str, Any]]:
    return [{"node_type": "trigger", "config": {"type": kind}}]


async def triggered_campaigns(
    session: AsyncSession, kinds: Collection[str], statuses: Collection[str]
) -> list[tuple[Campaign, list[dict[str, Any]]]]:
    """The campaigns in `statuses` whose published version starts with a trigger of one of
    `kinds`, with that version's steps."""
    query = (
        select(Campaign, CampaignVersion.steps_snapshot)
        .join(
            CampaignWorkflow,
            and_(
                CampaignWorkflow.org_id == Campaign.org_id,
                CampaignWorkflow.campaign_id == Campaign.id,
            ),
        )
        .join(
            CampaignVersion,
            and_(
                CampaignVersion.org_id == Campaign.org_id,
                CampaignVersion.campaign_id == Campaign.id,
                CampaignVersion.version == CampaignWorkflow.published_version,
            ),
        )
        .where(
            Campaign.status.in_(list(statuses)),
            Campaign.deleted_at.is_(None),
            or_(*(CampaignVersion.steps_snapshot.contains(_trigger_of(kind)) for kind in kinds)),
        )
        .order_by(Campaign.id)
    )
    return [(campaign, steps) for campaign, steps in await session.execute(query)]


async def published_steps(
    session: AsyncSession, campaign_id: uuid.UUID
) -> list[dict[str, Any]] | None:
    """The steps of the campaign's published version; None: nothing was published."""
    found: list[dict[str, Any]] | None = await session.scalar(
        select(CampaignVersion.steps_snapshot)
        .join(
            CampaignWorkflow,
            and_(
                CampaignWorkflow.org_id == CampaignVersion.org_id,
                CampaignWorkflow.campaign_id == CampaignVersion.campaign_id,
                CampaignWorkflow.published_version == CampaignVersion.version,
            ),
        )
        .where(CampaignVersion.campaign_id == campaign_id)
    )
    return found


async def members_of(
    session: AsyncSession, campaign_ids: Sequence[uuid.UUID], contact_ids: Collection[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """(campaign contact id, campaign id, contact id) of these people in these campaigns."""
    rows = await session.execute(
        text(
            "SELECT id, campaign_id, contact_id FROM campaign_contacts "
            "WHERE campaign_id = ANY(:campaign_ids) AND contact_id = ANY(:contact_ids)"
        ),
        {"campaign_ids": list(campaign_ids), "contact_ids": list(contact_ids)},
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def scheduled_candidates(
    session: AsyncSession, campaign_id: uuid.UUID, fired_at: datetime, limit: int
) -> list[uuid.UUID]:
    rows = await session.execute(
        _SCHEDULED, {"campaign_id": campaign_id, "fired_at": fired_at, "limit": limit}
    )
    return list(rows.scalars())


async def trigger_key(session: AsyncSession, campaign_id: uuid.UUID) -> str | None:
    """The secret of the campaign's webhook trigger URL (None: no such campaign has a graph)."""
    found: str | None = await session.scalar(
        select(CampaignWorkflow.trigger_key)
        .join(
            Campaign,
            and_(
                Campaign.org_id == CampaignWorkflow.org_id,
                Campaign.id == CampaignWorkflow.campaign_id,
            ),
        )
        .where(CampaignWorkflow.campaign_id == campaign_id, Campaign.deleted_at.is_(None))
    )
    return found
