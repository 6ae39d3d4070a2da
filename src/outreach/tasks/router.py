"""Task routes: the manual steps (LinkedIn, calls, letters) due for people to do."""

import uuid

from fastapi import APIRouter

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.tasks import service
from outreach.tasks.repository import TaskFilters
from outreach.tasks.schemas import (
    TaskChannel,
    TaskCompleteIn,
    TaskKind,
    TaskOut,
    TaskSkipIn,
    TaskStatus,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])

CLOSERS = "By the task's owner, an admin or a TA manager (else `403 FORBIDDEN`). "


@router.get(
    "",
    summary="List tasks, soonest due first",
    description="Without `owner_id`, recruiters and viewers see their own tasks and admins "
    "and TA managers the whole organization's. Each task carries the person to contact and "
    "the personalized message.",
    response_model=Page[TaskOut],
    responses=problem_responses(401, 422),
)
async def list_tasks(
    session: TenantSession,
    principal: CurrentPrincipal,
    status: TaskStatus = "open",
    campaign_id: uuid.UUID | None = None,
    channel: TaskChannel | None = None,
    kind: TaskKind | None = None,
    owner_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[TaskOut]:
    filters = TaskFilters(
        status=status, campaign_id=campaign_id, channel=channel, kind=kind, owner_id=owner_id
    )
    return await service.list_tasks(session, principal, filters, limit=limit, cursor=cursor)


@router.get(
    "/{task_id}",
    summary="Get a task",
    response_model=TaskOut,
    responses=problem_responses(401, 404, 422),
)
async def get_task(task_id: uuid.UUID, session: TenantSession) -> TaskOut:
    """One manual step with its rendered message, its contact and campaign, and its due time."""
    return await service.get_task(session, task_id)


@router.post(
    "/{task_id}/complete",
    summary="Mark a task done and record the contact's touch",
    description=CLOSERS + "Records `linkedin_sent`, `call_completed` or `letter_sent` for the "
    "contact in the same transaction (once per task). `409 TASK_NOT_OPEN` when the task is "
    "no longer open; `409 CAMPAIGN_NOT_ACTIVE` when its campaign is not active or paused; "
    "`422 FIELD_NOT_ALLOWED` for an `outcome` on a task that is not a call.",
    response_model=TaskOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={409: ["CAMPAIGN_NOT_ACTIVE", "TASK_NOT_OPEN"], 422: ["FIELD_NOT_ALLOWED"]},
    ),
)
async def complete_task(
    task_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    body: TaskCompleteIn | None = None,
) -> TaskOut:
    return await service.complete_task(session, principal, task_id, body or TaskCompleteIn())


@router.post(
    "/{task_id}/skip",
    summary="Skip a task; nothing is recorded for the contact",
    description=CLOSERS + "`409 TASK_NOT_OPEN` when the task is no longer open. Allowed "
    "whatever the campaign's status.",
    response_model=TaskOut,
    responses=problem_responses(401, 403, 404, 409, 422, codes={409: ["TASK_NOT_OPEN"]}),
)
async def skip_task(
    task_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    body: TaskSkipIn | None = None,
) -> TaskOut:
    return await service.skip_task(session, principal, task_id, body or TaskSkipIn())
