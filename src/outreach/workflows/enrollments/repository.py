"""The one writer of `campaign_workflow_states`: enrollment, the engine's claims and the
batches of state changes it writes back, pause and resume of a campaign's walks.

Every statement is set-based (a batch of states is one statement), and every workflow time is
the engine's clock value, passed as a parameter.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.jobs.runs import hold_due_times
from outreach.kit.keyset import Position
from outreach.models import Campaign, EngagementEvent, WorkflowState

INSERT_STATES = text("""
-- name: insert-states (one state per campaign contact: a repeat does nothing)
INSERT INTO campaign_workflow_states (org_id, campaign_id, campaign_contact_id, version,
  current_node_id, workflow_status, max_retries, started_at, next_execution_at)
SELECT :org_id, :campaign_id, p.id, :version, :node, 'running', :max_retries, :now, :now
FROM unnest(CAST(:ids AS uuid[])) AS p (id)
ON CONFLICT (org_id, campaign_contact_id) DO NOTHING
RETURNING id
""")

# What a claimed state needs to be walked: the state, its campaign contact and person.
_CLAIM = """
SELECT s.id, s.campaign_id, s.campaign_contact_id, s.version, s.current_node_id,
  s.workflow_status, s.execution_path, s.workflow_variables, s.wait_until, s.wait_for_event,
  s.wait_started_at, s.interrupt, s.retry_count, s.max_retries, s.assigned_variant, s.variants,
  s.variant_assigned_at, s.started_at, s.last_error,
  cc.contact_id, cc.channel, cc.ab_variant,
  c.email, c.first_name, c.last_name, c.company_name, c.title, c.linkedin_url, c.phone,
  c.custom_fields, c.lead_tier
FROM campaign_workflow_states s
JOIN campaign_contacts cc ON cc.org_id = s.org_id AND cc.id = s.campaign_contact_id
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
WHERE {which}
ORDER BY s.next_execution_at
LIMIT :limit
FOR UPDATE OF s SKIP LOCKED
"""
# -- name: claim-due (locks the states until the caller's transaction ends)
CLAIM_DUE = text(
    _CLAIM.format(
        which="s.workflow_status IN ('running', 'waiting') AND s.next_execution_at <= :now"
    )
)
# What a walk about to start needs, as the claim gives it, for a state not written yet: the
# planner walks its new enrollments through their first steps before writing each state once.
STARTING_WALKS = text("""
-- name: starting-walks (campaign contacts not enrolled yet)
SELECT gen_random_uuid() AS id, cc.campaign_id, cc.id AS campaign_contact_id,
  CAST(:version AS integer) AS version, CAST(:node AS text) AS current_node_id,
  'running' AS workflow_status, CAST('{}' AS text[]) AS execution_path,
  CAST('{}' AS jsonb) AS workflow_variables, CAST(NULL AS timestamptz) AS wait_until,
  CAST(NULL AS text) AS wait_for_event, CAST(NULL AS timestamptz) AS wait_started_at,
  CAST(NULL AS text) AS interrupt, 0 AS retry_count, CAST(:max_retries AS integer) AS max_retries,
  CAST(NULL AS text) AS assigned_variant, CAST('{}' AS jsonb) AS variants,
  CAST(NULL AS timestamptz) AS variant_assigned_at, CAST(:now AS timestamptz) AS started_at,
  CAST(NULL AS text) AS last_error,
  cc.contact_id, cc.channel, cc.ab_variant,
  c.email, c.first_name, c.last_name, c.company_name, c.title, c.linkedin_url, c.phone,
  c.custom_fields, c.lead_tier
FROM unnest(CAST(:ids AS uuid[])) AS p (id)
JOIN campaign_contacts cc ON cc.id = p.id
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
WHERE cc.campaign_id = :campaign_id
  AND NOT EXISTS (SELECT 1 FROM campaign_workflow_states s
                  WHERE s.org_id = cc.org_id AND s.campaign_contact_id = cc.id)
""")

# -- name: claim-due-these (one walk of a failed batch, if still due and not taken meanwhile)
CLAIM_DUE_THESE = text(
    _CLAIM.format(
        which="s.id = ANY(CAST(:ids AS uuid[])) AND s.workflow_status IN ('running', 'waiting') "
        "AND s.next_execution_at <= :now"
    )
)

# A walk whose execution raised: tried again later (a minute, doubling), `failed` once its
# retries are spent.
NOTE_FAILURE = text("""
UPDATE campaign_workflow_states SET
  retry_count = least(retry_count + 1, max_retries),
  last_error = :error,
  workflow_status = CASE WHEN retry_count >= max_retries THEN 'failed' ELSE workflow_status END,
  completed_at = CASE WHEN retry_count >= max_retries THEN :now END,
  next_execution_at = CASE WHEN retry_count >= max_retries THEN NULL
    ELSE CAST(:now AS timestamptz) + interval '1 minute' * power(2, retry_count) END
WHERE id = :id AND workflow_status IN ('running', 'waiting')
""")

WRITE_STATES = text("""
-- name: write-states (a batch of walked states, one statement)
UPDATE campaign_workflow_states s SET
  current_node_id = u.current_node_id,
  workflow_status = u.workflow_status,
  paused_status = u.paused_status,
  execution_path = s.execution_path || CAST(u.appended AS text[]),
  workflow_variables = u.workflow_variables,
  wait_until = u.wait_until,
  wait_for_event = u.wait_for_event,
  wait_started_at = u.wait_started_at,
  interrupt = CASE WHEN u.interrupt_seen THEN NULL ELSE s.interrupt END,
  retry_count = u.retry_count,
  assigned_variant = u.assigned_variant,
  variants = u.variants,
  variant_assigned_at = u.variant_assigned_at,
  last_executed_at = :now,
  next_execution_at = u.next_execution_at,
  completed_at = u.completed_at,
  exit_reason = u.exit_reason,
  last_error = u.last_error
FROM jsonb_to_recordset(CAST(:states AS jsonb)) AS u (
  id uuid, current_node_id text, workflow_status text, paused_status text, appended text[],
  workflow_variables jsonb, wait_until timestamptz, wait_for_event text,
  wait_started_at timestamptz, interrupt_seen boolean, retry_count integer,
  assigned_variant text, variants jsonb, variant_assigned_at timestamptz,
  next_execution_at timestamptz, completed_at timestamptz, exit_reason text, last_error text)
WHERE s.id = u.id
""")

INSERT_WALKED = text("""
-- name: insert-walked-states (starting walks, written once where their first steps left them)
INSERT INTO campaign_workflow_states (org_id, id, campaign_id, campaign_contact_id, version,
  current_node_id, workflow_status, paused_status, execution_path, workflow_variables,
  wait_until, wait_for_event, wait_started_at, retry_count, max_retries, assigned_variant,
  variants, variant_assigned_at, started_at, last_executed_at, next_execution_at, completed_at,
  exit_reason, last_error)
SELECT :org_id, u.id, u.campaign_id, u.campaign_contact_id, u.version, u.current_node_id,
  u.workflow_status, u.paused_status, u.appended, u.workflow_variables, u.wait_until,
  u.wait_for_event, u.wait_started_at, u.retry_count, u.max_retries, u.assigned_variant,
  u.variants, u.variant_assigned_at, :now, :now, u.next_execution_at, u.completed_at,
  u.exit_reason, u.last_error
FROM jsonb_to_recordset(CAST(:states AS jsonb)) AS u (
  id uuid, campaign_id uuid, campaign_contact_id uuid, version integer, current_node_id text,
  workflow_status text, paused_status text, appended text[], workflow_variables jsonb,
  wait_until timestamptz, wait_for_event text, wait_started_at timestamptz, retry_count integer,
  max_retries integer, assigned_variant text, variants jsonb, variant_assigned_at timestamptz,
  next_execution_at timestamptz, completed_at timestamptz, exit_reason text, last_error text)
""")

PAUSE = text("""
-- name: pause-campaign
UPDATE campaign_workflow_states SET paused_status = workflow_status, workflow_status = 'paused'
WHERE campaign_id = :campaign_id AND workflow_status IN ('running', 'waiting')
RETURNING id, campaign_contact_id, current_node_id
""")
RESUME = text("""
-- name: resume-campaign (due now: the engine looks again at where each walk was)
UPDATE campaign_workflow_states SET workflow_status = paused_status, paused_status = NULL,
  next_execution_at = :now
WHERE campaign_id = :campaign_id AND workflow_status = 'paused'
RETURNING id, campaign_contact_id, current_node_id
""")

WAKE = text("""
-- name: wake-campaign (every live walk due now, a paused one back to its status first)
UPDATE campaign_workflow_states SET
  workflow_status = coalesce(paused_status, workflow_status), paused_status = NULL,
  next_execution_at = :now
WHERE campaign_id = :campaign_id AND workflow_status IN ('running', 'waiting', 'paused')
""")

# Raised only by the statement triggers; lowered here after a pass, to when the organization
# next has a due walk (one step down the partial index, however many states wait).
NOTE_NEXT_DUE = text("""
UPDATE tenant_directory SET workflow_due_at = (
  SELECT min(next_execution_at) FROM campaign_workflow_states
  WHERE workflow_status IN ('running', 'waiting'))
WHERE id = :org_id
""")


async def insert_states(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    version: int,
    node: str,
    campaign_contact_ids: Sequence[uuid.UUID],
    max_retries: int,
    now: datetime,
) -> list[uuid.UUID]:
    """New running states, due `now`; answers the ids of those created (not the repeats)."""
    rows = await session.execute(
        INSERT_STATES,
        {
            "org_id": org_id,
            "campaign_id": campaign_id,
            "version": version,
            "node": node,
            "max_retries": max_retries,
            "now": now,
            "ids": list(campaign_contact_ids),
        },
    )
    return list(rows.scalars())


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> Sequence[RowMapping]:
    """Up to `limit` states due at `now`, locked (others' locked states are skipped)."""
    return (await session.execute(CLAIM_DUE, {"now": now, "limit": limit})).mappings().all()


async def starting_walks(
    session: AsyncSession,
    *,
    campaign_id: uuid.UUID,
    version: int,
    node: str,
    campaign_contact_ids: Sequence[uuid.UUID],
    max_retries: int,
    now: datetime,
) -> Sequence[RowMapping]:
    """Claim rows for walks of these campaign contacts (those not enrolled yet) starting at
    `node` of `version`, with new ids; nothing is written until `insert_walked`."""
    params = {
        "campaign_id": campaign_id,
        "version": version,
        "node": node,
        "max_retries": max_retries,
        "now": now,
        "ids": list(campaign_contact_ids),
    }
    return (await session.execute(STARTING_WALKS, params)).mappings().all()


async def claim_due_these(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: datetime
) -> Sequence[RowMapping]:
    params = {"ids": list(ids), "now": now, "limit": len(ids)}
    return (await session.execute(CLAIM_DUE_THESE, params)).mappings().all()


async def note_failure(
    session: AsyncSession, state_id: uuid.UUID, error: str, now: datetime
) -> None:
    await session.execute(NOTE_FAILURE, {"id": state_id, "error": error[:1000], "now": now})


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _records(states: list[dict[str, Any]]) -> str:
    """A batch for jsonb_to_recordset. A key left out reads as NULL there, and PostgreSQL reads
    the document about twice as fast without its nulls."""
    return _json([{k: v for k, v in state.items() if v is not None} for state in states])


async def write_states(session: AsyncSession, states: list[dict[str, Any]], now: datetime) -> None:
    """Each state's new values (the keys of WRITE_STATES' record), in one statement."""
    if states:
        await session.execute(WRITE_STATES, {"states": _records(states), "now": now})


async def insert_walked(
    session: AsyncSession, org_id: uuid.UUID, states: list[dict[str, Any]], now: datetime
) -> None:
    """Starting walks' states (the keys of INSERT_WALKED's record), in one statement."""
    if states:
        await session.execute(
            INSERT_WALKED, {"org_id": org_id, "states": _records(states), "now": now}
        )


async def pause_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Sequence[RowMapping]:
    """Every live walk of the campaign paused (its status kept); answers them."""
    return (await session.execute(PAUSE, {"campaign_id": campaign_id})).mappings().all()


async def resume_campaign(
    session: AsyncSession, campaign_id: uuid.UUID, now: datetime
) -> Sequence[RowMapping]:
    """The campaign's paused walks back to their status, due `now`; answers them."""
    return (
        (await session.execute(RESUME, {"campaign_id": campaign_id, "now": now})).mappings().all()
    )


async def wake_campaign(session: AsyncSession, campaign_id: uuid.UUID, now: datetime) -> None:
    await session.execute(WAKE, {"campaign_id": campaign_id, "now": now})


async def note_next_due(session: AsyncSession, org_id: uuid.UUID) -> None:
    await hold_due_times(session, org_id)
    await session.execute(NOTE_NEXT_DUE, {"org_id": org_id})


# -- enrollment by API and triggers, reads of states --------------------------------------


async def campaign(
    session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False
) -> Campaign | None:
    """The campaign (not deleted); locked, so that a pause or resume waits for the enrollment.
    NO KEY UPDATE, as the campaigns' own changes: rows that reference the campaign (KEY SHARE)
    are not waited for."""
    query = select(Campaign).where(Campaign.id == campaign_id, Campaign.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update(key_share=True)
    found: Campaign | None = (await session.execute(query)).scalar_one_or_none()
    return found


@dataclass(frozen=True)
class StateFilters:
    workflow_status: list[str]
    current_node_id: str | None


async def list_states(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    filters: StateFilters,
    after: Position | None,
    limit: int,
) -> Sequence[WorkflowState]:
    """Newest first, `limit` rows at most."""
    query = (
        select(WorkflowState)
        .where(WorkflowState.campaign_id == campaign_id)
        .order_by(WorkflowState.created_at.desc(), WorkflowState.id.desc())
        .limit(limit)
    )
    if filters.workflow_status:
        query = query.where(WorkflowState.workflow_status.in_(filters.workflow_status))
    if filters.current_node_id is not None:
        query = query.where(WorkflowState.current_node_id == filters.current_node_id)
    if after is not None:
        query = query.where(tuple_(WorkflowState.created_at, WorkflowState.id) < after)
    return (await session.execute(query)).scalars().all()


async def get_state(
    session: AsyncSession, campaign_id: uuid.UUID, state_id: uuid.UUID
) -> WorkflowState | None:
    found: WorkflowState | None = (
        await session.execute(
            select(WorkflowState).where(
                WorkflowState.campaign_id == campaign_id, WorkflowState.id == state_id
            )
        )
    ).scalar_one_or_none()
    return found


async def latest_steps(
    session: AsyncSession, enrollment_id: uuid.UUID, limit: int
) -> Sequence[EngagementEvent]:
    """The enrollment's latest `limit` workflow events, newest first."""
    query = (
        select(EngagementEvent)
        .where(EngagementEvent.enrollment_id == enrollment_id)
        .order_by(EngagementEvent.created_at.desc(), EngagementEvent.id.desc())
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


ERASE = text("""
-- name: erase-walks (a live walk exits; every walk forgets its variables and error)
UPDATE campaign_workflow_states SET
  workflow_status = CASE WHEN workflow_status IN ('running', 'waiting', 'paused')
                         THEN 'exited' ELSE workflow_status END,
  exit_reason = CASE WHEN workflow_status IN ('running', 'waiting', 'paused')
                     THEN :reason ELSE exit_reason END,
  completed_at = CASE WHEN workflow_status IN ('running', 'waiting', 'paused')
                      THEN :now ELSE completed_at END,
  paused_status = NULL, wait_until = NULL, wait_for_event = NULL, next_execution_at = NULL,
  workflow_variables = '{}', last_error = NULL
WHERE campaign_contact_id = ANY(CAST(:ids AS uuid[]))
""")


async def erase(
    session: AsyncSession, member_ids: list[uuid.UUID], now: datetime, reason: str
) -> int:
    result = await session.execute(ERASE, {"ids": member_ids, "now": now, "reason": reason})
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
