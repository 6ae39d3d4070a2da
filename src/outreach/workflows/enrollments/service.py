"""Enrollment and a campaign's pause and resume (each walk's `enrollment_paused` /
`enrollment_resumed` logged), as the planner, the campaigns and the enrollment routes use
them."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, not_found
from outreach.events.service import WorkflowEvent, record_workflow_events
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.models import Campaign, WorkflowState
from outreach.workflows.enrollments import repository
from outreach.workflows.enrollments.repository import StateFilters
from outreach.workflows.enrollments.schemas import (
    EnrollmentDetail,
    EnrollmentOut,
    EnrollmentStepOut,
)
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


# -- enrollment by API and by triggers ---------------------------------------------------

# A campaign takes new enrollments while it runs; a paused one holds them paused until resumed.
ENROLLING_STATUSES = frozenset({"active", "paused"})


def require_enrolling(campaign: Campaign) -> None:
    if campaign.status not in ENROLLING_STATUSES:
        raise Conflict(
            "CAMPAIGN_NOT_ACTIVE",
            f"Campaign is {campaign.status}",
            "Contacts can be enrolled only while the campaign is active or paused.",
        )


async def campaign_to_change(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> Campaign:
    """The campaign, locked (a pause waits for an enrollment), if the caller may change it."""
    campaign = await repository.campaign(session, campaign_id, for_update=True)
    if campaign is None:
        raise not_found("Campaign")
    require_owner_or_manager(principal, campaign.owner_id)
    return campaign


async def enrollable_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, principal: Principal | None = None
) -> Campaign:
    """The campaign, locked, if it takes enrollments and the caller (none: a trigger) may
    change it."""
    if principal is not None:
        campaign = await campaign_to_change(session, principal, campaign_id)
    else:
        found = await repository.campaign(session, campaign_id, for_update=True)
        if found is None:
            raise not_found("Campaign")
        campaign = found
    require_enrolling(campaign)
    return campaign


async def lock_enrolling_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign | None:
    """The campaign, locked, if it takes enrollments; None otherwise (a trigger skips it)."""
    campaign = await repository.campaign(session, campaign_id, for_update=True)
    if campaign is None or campaign.status not in ENROLLING_STATUSES:
        return None
    return campaign


# -- reads -------------------------------------------------------------------------------

STEP_LOG_LIMIT = 500


async def _readable_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    campaign = await repository.campaign(session, campaign_id)
    if campaign is None:
        raise not_found("Campaign")
    return campaign


def _state_values(state: WorkflowState) -> dict[str, Any]:
    fields = EnrollmentOut.model_fields.keys() - {"contact_id"}
    return {name: getattr(state, name) for name in fields} | {
        "contact_id": state.campaign_contact_id
    }


async def list_enrollments(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    filters: StateFilters,
    limit: int,
    cursor: str | None,
) -> Page[EnrollmentOut]:
    await _readable_campaign(session, campaign_id)
    rows = await repository.list_states(
        session, campaign_id, filters, position_after(cursor), limit + 1
    )
    return page_of(rows, limit, lambda state: EnrollmentOut(**_state_values(state)))


async def get_enrollment(
    session: AsyncSession, campaign_id: uuid.UUID, enrollment_id: uuid.UUID
) -> EnrollmentDetail:
    """The state with its step log: its latest workflow events, oldest first."""
    await _readable_campaign(session, campaign_id)
    state = await repository.get_state(session, campaign_id, enrollment_id)
    if state is None:
        raise not_found("Enrollment")
    steps = await repository.latest_steps(session, state.id, STEP_LOG_LIMIT + 1)
    return EnrollmentDetail(
        **_state_values(state),
        workflow_variables=state.workflow_variables,
        variants=state.variants,
        steps=[EnrollmentStepOut.model_validate(step) for step in reversed(steps[:STEP_LOG_LIMIT])],
        steps_truncated=len(steps) > STEP_LOG_LIMIT,
    )


async def erase_walks(
    session: AsyncSession, member_ids: list[uuid.UUID], now: datetime, reason: str
) -> int:
    """A data-subject erasure: these campaign contacts' live walks exit (`reason`), and every
    walk of theirs forgets its variables and last error. Answers how many walks."""
    if not member_ids:
        return 0
    return await repository.erase(session, member_ids, now, reason)
