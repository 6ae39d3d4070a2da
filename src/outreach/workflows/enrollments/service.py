"""Enrollment and a campaign's pause and resume (each walk's `enrollment_paused` /
`enrollment_resumed` logged), as the planner, the campaigns and the enrollment routes use
them."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.events.service import WorkflowEvent, record_workflow_events
from outreach.models import Campaign
from outreach.workflows.enrollments import repository
from outreach.workflows.versions.service import ensure_published, graph_of


async def enroll(
    session: AsyncSession,
    campaign: Campaign,
    campaign_contact_ids: Sequence[uuid.UUID],
    now: datetime,
) -> list[uuid.UUID]:
    """Each of these campaign contacts enrolled on the campaign's latest published version (the
    draft is published first if it changed), at its trigger node, running, due `now`. A contact
    already enrolled keeps its walk. Answers the ids of the new states."""
    if not campaign_contact_ids:
        return []
    version = await ensure_published(session, campaign)
    graph = await graph_of(session, campaign.id, version)
    return await repository.insert_states(
        session,
        org_id=campaign.org_id,
        campaign_id=campaign.id,
        version=version,
        node=graph.start,
        campaign_contact_ids=campaign_contact_ids,
        max_retries=graph.settings.max_retries,
        now=now,
    )


async def pause_campaign(
    session: AsyncSession, campaign: Campaign, now: datetime, reason: str = "campaign paused"
) -> int:
    """Every running or waiting walk of the campaign paused (`enrollment_paused` logged for
    each); answers how many."""
    paused = await repository.pause_campaign(session, campaign.id)
    await _log(session, campaign, paused, "enrollment_paused", now, reason)
    return len(paused)


async def resume_campaign(
    session: AsyncSession, campaign: Campaign, now: datetime, reason: str = "campaign resumed"
) -> int:
    """The campaign's paused walks resumed where they were, due `now` (`enrollment_resumed`
    logged for each); answers how many."""
    resumed = await repository.resume_campaign(session, campaign.id, now)
    await _log(session, campaign, resumed, "enrollment_resumed", now, reason)
    return len(resumed)


async def _log(
    session: AsyncSession,
    campaign: Campaign,
    walks: Sequence[RowMapping],
    event_type: str,
    now: datetime,
    reason: str,
) -> None:
    await record_workflow_events(
        session,
        campaign.org_id,
        [
            WorkflowEvent(
                campaign_id=campaign.id,
                campaign_contact_id=walk["campaign_contact_id"],
                enrollment_id=walk["id"],
                node_id=walk["current_node_id"],
                event_type=event_type,
                occurred_at=now,
                data={"reason": reason},
            )
            for walk in walks
        ],
    )


async def end_campaign(session: AsyncSession, campaign_id: uuid.UUID, now: datetime) -> None:
    """The campaign stopped for good (completed, deleted): its live walks are due now, so
    that the engine ends each one, with its event, within a second instead of whenever its
    wait would have ended."""
    await repository.wake_campaign(session, campaign_id, now)
