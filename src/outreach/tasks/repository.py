"""Task queries: each task with its campaign's name and status and the person it is about."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import Campaign, CampaignContact, Contact, Task

Position = tuple[datetime, uuid.UUID]  # (due_at, id): tasks are listed in due order


class TaskRow(NamedTuple):
    task: Task
    campaign_name: str
    campaign_status: str
    contact: Contact


@dataclass(frozen=True)
class TaskFilters:
    status: str
    campaign_id: uuid.UUID | None = None
    channel: str | None = None
    kind: str | None = None
    owner_id: uuid.UUID | None = None


def _tasks() -> Select[Task, str, str, Contact]:
    # A soft-deleted campaign's tasks are gone with it, as its other parts are.
    return (
        select(Task, Campaign.name, Campaign.status, Contact)
        .join(Campaign, and_(Campaign.org_id == Task.org_id, Campaign.id == Task.campaign_id))
        .join(
            CampaignContact,
            and_(
                CampaignContact.org_id == Task.org_id,
                CampaignContact.id == Task.campaign_contact_id,
            ),
        )
        .join(
            Contact,
            and_(
                Contact.org_id == CampaignContact.org_id, Contact.id == CampaignContact.contact_id
            ),
        )
        .where(Campaign.deleted_at.is_(None))
    )


async def list_tasks(
    session: AsyncSession, filters: TaskFilters, *, after: Position | None, limit: int
) -> list[TaskRow]:
    """Soonest due first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = _tasks().where(Task.status == filters.status)
    conditions: dict[Any, Any] = {
        Task.campaign_id: filters.campaign_id,
        Task.channel: filters.channel,
        Task.kind: filters.kind,
        Task.owner_id: filters.owner_id,
    }
    for column, value in conditions.items():
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(tuple_(Task.due_at, Task.id) > after)
    query = query.order_by(Task.due_at, Task.id).limit(limit + 1)
    return [TaskRow(*row) for row in await session.execute(query)]


async def get_task(
    session: AsyncSession, task_id: uuid.UUID, *, for_update: bool = False
) -> TaskRow | None:
    query = _tasks().where(Task.id == task_id)
    if for_update:
        query = query.with_for_update(of=Task)
    row = (await session.execute(query)).first()
    return None if row is None else TaskRow(*row)


async def close_task(
    session: AsyncSession,
    task: Task,
    *,
    status: str,
    by: uuid.UUID,
    at: datetime,
    note: str | None,
) -> Task:
    task.status, task.completed_by, task.completed_at, task.note = status, by, at, note
    await session.flush()
    await session.refresh(task)  # updated_at is set by a trigger
    return task


ADD_STEPS = text("""
-- name: add-steps (one task per contact and step: a repeat does nothing)
INSERT INTO tasks (org_id, campaign_id, campaign_contact_id, owner_id, channel, kind,
                   template_id, subject, body, due_at, enrollment_id, step)
VALUES (:org_id, :campaign_id, :campaign_contact_id, :owner_id, :channel, :kind,
        :template_id, :subject, :body, :due_at, :enrollment_id, :step)
ON CONFLICT DO NOTHING
""")


async def add_steps(session: AsyncSession, tasks: list[dict[str, Any]]) -> None:
    await session.execute(ADD_STEPS, tasks)


CANCEL_FOR_ENROLLMENTS = text("""
UPDATE tasks SET status = 'cancelled', note = coalesce(note, :reason)
WHERE enrollment_id = ANY(CAST(:ids AS uuid[])) AND status = 'open'
""")
STEP_OUTCOMES = text("""
SELECT enrollment_id, step, status, note FROM tasks
WHERE enrollment_id = ANY(CAST(:ids AS uuid[]))
""")
PLANNED_LINKEDIN = text("""
SELECT kind, due_at FROM tasks WHERE owner_id = :owner AND channel = 'linkedin'
  AND due_at > CAST(:now AS timestamptz) - interval '30 days'
""")


async def cancel_for_enrollments(
    session: AsyncSession, enrollment_ids: list[uuid.UUID], reason: str
) -> None:
    await session.execute(CANCEL_FOR_ENROLLMENTS, {"ids": enrollment_ids, "reason": reason})


async def step_outcomes(session: AsyncSession, enrollment_ids: list[uuid.UUID]) -> list[Any]:
    return list((await session.execute(STEP_OUTCOMES, {"ids": enrollment_ids})).mappings())


async def planned_linkedin(
    session: AsyncSession, owner_id: uuid.UUID, now: datetime
) -> list[tuple[str, datetime]]:
    rows = await session.execute(PLANNED_LINKEDIN, {"owner": owner_id, "now": now})
    return [(row.kind, row.due_at) for row in rows]


CANCEL_OPEN_TASKS = text("""
-- name: cancel-open-tasks (a done or skipped task stays as it was)
UPDATE tasks SET status = 'cancelled'
WHERE campaign_id = :campaign_id AND status = 'open'
""")


async def cancel_open_tasks(session: AsyncSession, campaign_id: uuid.UUID) -> None:
    await session.execute(CANCEL_OPEN_TASKS, {"campaign_id": campaign_id})


ERASE = text("""
-- name: erase-tasks (the rendered message and the notes go; an open task is cancelled)
UPDATE tasks SET subject = NULL, body = '', note = NULL,
  status = CASE WHEN status = 'open' THEN 'cancelled' ELSE status END
WHERE campaign_contact_id = ANY(CAST(:ids AS uuid[]))
""")


async def erase(session: AsyncSession, member_ids: list[uuid.UUID]) -> int:
    result = await session.execute(ERASE, {"ids": member_ids})
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
