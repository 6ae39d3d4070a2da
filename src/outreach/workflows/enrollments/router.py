"""Enrollment reads: a campaign's walks through its sequence, one walk with its step log.
(Enrolling is `POST /campaigns/{id}/enrollments`, in workflows/triggers: it goes through the
planner, which this package is below.)"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from outreach.auth.dependencies import TenantSession
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.models.workflow_state import WorkflowStatus
from outreach.workflows.enrollments import service
from outreach.workflows.enrollments.repository import StateFilters
from outreach.workflows.enrollments.schemas import (
    EnrollmentDetail,
    EnrollmentOut,
)

router = APIRouter(prefix="/campaigns/{campaign_id}/enrollments", tags=["sequences"])


@router.get(
    "",
    summary="The campaign's enrollments (workflow states), newest first",
    response_model=Page[EnrollmentOut],
    responses=problem_responses(401, 404, 422),
)
async def list_enrollments(
    campaign_id: uuid.UUID,
    session: TenantSession,
    workflow_status: Annotated[list[WorkflowStatus] | None, Query(description="Repeatable")] = None,
    current_node_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[EnrollmentOut]:
    """Each enrolled contact's place in the sequence: version, current node, `workflow_status`, what
    it waits for and when it runs next. Filters: `workflow_status`, `current_node_id`."""
    filters = StateFilters(list(workflow_status or []), current_node_id)
    return await service.list_enrollments(session, campaign_id, filters, limit, cursor)


@router.get(
    "/{enrollment_id}",
    summary="One enrollment with its step log (the workflow events of its walk, oldest first)",
    response_model=EnrollmentDetail,
    responses=problem_responses(401, 404, 422),
)
async def get_enrollment(
    campaign_id: uuid.UUID, enrollment_id: uuid.UUID, session: TenantSession
) -> EnrollmentDetail:
    """The enrollment's state and every step it took, with the time and outcome of each."""
    return await service.get_enrollment(session, campaign_id, enrollment_id)
