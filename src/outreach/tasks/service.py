"""Task rules: who sees and closes a manual step, and the engagement event a done step records."""

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, ValidationFailed, not_found
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.kit.keyset import key_after, page_by
from outreach.kit.locks import advisory_xact_lock
from outreach.kit.pagination import Page
from outreach.models.campaign import CampaignStatus
from outreach.tasks import repository
from outreach.tasks.linkedin import LinkedInSlots
from outreach.tasks.repository import TaskFilters, TaskRow
from outreach.tasks.schemas import TaskCompleteIn, TaskContactOut, TaskOut, TaskSkipIn

# What doing a task tells about its contact
EVENT_OF_CHANNEL = {
    "linkedin": EventType.LINKEDIN_SENT,
    "voice": EventType.CALL_COMPLETED,
    "mail": EventType.LETTER_SENT,
}
# Recorded under this provider with the task's id, so a task is recorded once however often
# its completion is retried.
TASK_PROVIDER = "task"


async def list_tasks(
    session: AsyncSession,
    principal: Principal,
    filters: TaskFilters,
    *,
    limit: int,
    cursor: str | None,
) -> Page[TaskOut]:
    """Without an `owner_id` filter, recruiters and viewers get their own tasks (their to-do
    list) and managers the whole organization's."""
    if filters.owner_id is None and not principal.manages_org:
        filters = TaskFilters(**{**filters.__dict__, "owner_id": principal.user_id})
    after = key_after(cursor, datetime.fromisoformat)
    rows = await repository.list_tasks(session, filters, after=after, limit=limit)
    return page_by(rows, limit, task_out, lambda row: (row.task.due_at, row.task.id))


async def get_task(session: AsyncSession, task_id: uuid.UUID) -> TaskOut:
    return task_out(await _get(session, task_id))


async def complete_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, body: TaskCompleteIn
) -> TaskOut:
    """Done: the task is closed and its contact's touch recorded, in one transaction."""
    row = await _get(session, task_id, for_update=True)
    task = row.task
    require_owner_or_manager(principal, task.owner_id, "tasks")
    if body.outcome is not None and task.channel != "voice":
        raise ValidationFailed.field("outcome", "FIELD_NOT_ALLOWED", "outcome goes with calls only")
    _require_open(task.status)
    require_running(row.campaign_status)
    now = datetime.now(UTC)
    data: dict[str, Any] = {"source": "task", "task_id": str(task.id), "kind": task.kind}
    if body.outcome is not None:
        data["call_outcome"] = body.outcome
    event = NewEvent(
        campaign_contact_id=task.campaign_contact_id,
        event_type=EVENT_OF_CHANNEL[task.channel],
        occurred_at=now,
        data=data,
        provider=TASK_PROVIDER,
        provider_event_id=f"task:{task.id}",
    )
    await record_events(session, principal.org_id, [event])
    closed = await repository.close_task(
        session, task, status="done", by=principal.user_id, at=now, note=body.note or None
    )
    return task_out(row._replace(task=closed))


async def skip_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, body: TaskSkipIn
) -> TaskOut:
    """Skipped: closed with nothing recorded. Allowed whatever the campaign's status, so that a
    stopped campaign's leftover tasks can be cleared from a to-do list."""
    row = await _get(session, task_id, for_update=True)
    require_owner_or_manager(principal, row.task.owner_id, "tasks")
    _require_open(row.task.status)
    closed = await repository.close_task(
        session,
        row.task,
        status="skipped",
        by=principal.user_id,
        at=datetime.now(UTC),
        note=body.reason or None,
    )
    return task_out(row._replace(task=closed))


def _require_open(status: str) -> None:
    if status != "open":
        raise Conflict("TASK_NOT_OPEN", f"Task is {status}", "Only an open task can be closed.")


def require_running(status: str) -> None:
    """A task done or a message approved goes ahead only while its campaign runs: a draft has
    not started, and a completed campaign has stopped its outreach. Here rather than in
    campaigns, which calls tasks (to cancel them); approvals applies it too."""
    if status not in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
        raise Conflict(
            "CAMPAIGN_NOT_ACTIVE",
            f"Campaign is {status}",
            "Only the tasks and messages of an active or paused campaign can go ahead.",
        )


async def _get(session: AsyncSession, task_id: uuid.UUID, *, for_update: bool = False) -> TaskRow:
    row = await repository.get_task(session, task_id, for_update=for_update)
    if row is None:
        raise not_found("Task")
    return row


def task_out(row: TaskRow) -> TaskOut:
    task = row.task
    fields = set(TaskOut.model_fields) - {"campaign_name", "contact"}
    return TaskOut(
        campaign_name=row.campaign_name,
        contact=TaskContactOut.model_validate(row.contact),
        **{field: getattr(task, field) for field in fields},
    )


async def cancel_open_tasks(session: AsyncSession, campaign_id: uuid.UUID) -> None:
    """A completed campaign's open tasks are cancelled with it (its outreach has stopped)."""
    await repository.cancel_open_tasks(session, campaign_id)


async def create_steps(session: AsyncSession, tasks: list[dict[str, Any]]) -> None:
    """Sequence steps for the campaign owner (LinkedIn, a call, a letter): one per contact and
    step; a repeat does nothing."""
    if tasks:
        await repository.add_steps(session, tasks)


async def cancel_for_enrollments(
    session: AsyncSession, enrollment_ids: Collection[uuid.UUID], reason: str
) -> None:
    """Cancel the open tasks of these enrollments: their walks ended."""
    if enrollment_ids:
        await repository.cancel_for_enrollments(session, list(enrollment_ids), reason)


async def step_outcomes(
    session: AsyncSession, enrollment_ids: Collection[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], tuple[str, str | None]]:
    """The status and note of each task of these enrollments, by (enrollment, step)."""
    if not enrollment_ids:
        return {}
    rows = await repository.step_outcomes(session, list(enrollment_ids))
    return {(r["enrollment_id"], r["step"]): (r["status"], r["note"]) for r in rows}


async def linkedin_slots(
    session: AsyncSession, owner_id: uuid.UUID, now: datetime
) -> LinkedInSlots:
    """The owner's LinkedIn slots from `now`, counting the tasks already planned. Holds the
    owner's lock until the transaction ends: the owner's account is one rate limit, so one
    planner or engine at a time gives out its slots."""
    await advisory_xact_lock(session, f"linkedin:{owner_id}")
    return LinkedInSlots(await repository.planned_linkedin(session, owner_id, now), now)


async def erase_for_members(session: AsyncSession, member_ids: Collection[uuid.UUID]) -> int:
    """A data-subject erasure: the tasks about these campaign contacts lose their rendered
    texts and notes; the open ones are cancelled. Answers how many tasks."""
    if not member_ids:
        return 0
    return await repository.erase(session, list(member_ids))
