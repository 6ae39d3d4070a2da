"""Approval routes (co-pilot): messages suggested by the campaign, waiting for a person."""

import uuid

from fastapi import APIRouter

from outreach.approvals import service
from outreach.approvals.schemas import (
    ApprovalOut,
    ApproveIn,
    ApproveManyIn,
    ApproveManyOut,
    RejectIn,
)
from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.templates.dependencies import TemplateRenderer
from outreach.templates.schemas import TEMPLATE_RULE_CODES

router = APIRouter(prefix="/approvals", tags=["approvals"])

PREVIEW_CODES = [*TEMPLATE_RULE_CODES, "PREVIEW_MISSING_VALUES"]
STATE_CODES = ["APPROVAL_NOT_PENDING", "CAMPAIGN_NOT_ACTIVE"]

DECIDERS = "By the campaign's owner, an admin or a TA manager (else `403 FORBIDDEN`). "
NOT_PENDING = "`409 APPROVAL_NOT_PENDING` when the message no longer awaits approval. "


@router.get(
    "",
    summary="List messages awaiting approval, oldest first",
    description="Each with a preview of the message as it will be sent to its contact; a "
    "message that cannot be rendered shows its `problems` instead of failing the list "
    "(`TEMPLATE_LIMIT_EXCEEDED` when over a rendering limit, `TEMPLATE_TAG_NOT_ALLOWED`, "
    "`PREVIEW_RENDER_FAILED`).",
    response_model=Page[ApprovalOut],
    responses=problem_responses(
        401,
        422,
        codes={422: PREVIEW_CODES},
    ),
)
async def list_approvals(
    session: TenantSession,
    renderer: TemplateRenderer,
    campaign_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ApprovalOut]:
    return await service.list_approvals(
        session, renderer, campaign_id=campaign_id, limit=limit, cursor=cursor
    )


@router.post(
    "/approve",
    summary="Approve many messages as they are (up to 500)",
    description="Answers row by row: `approved`, `not_found`, `not_pending`, `forbidden` (a "
    "recruiter's call for another owner's campaign), `campaign_not_active`, or `invalid` "
    "(with the template rule its text breaks). Viewers get `403 FORBIDDEN`.",
    response_model=ApproveManyOut,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        codes={
            409: STATE_CODES,
            422: [*TEMPLATE_RULE_CODES, "APPROVAL_EDIT_BLANK"],
        },
    ),
)
async def approve_many(
    body: ApproveManyIn,
    session: TenantSession,
    principal: CurrentPrincipal,
    renderer: TemplateRenderer,
) -> ApproveManyOut:
    return await service.approve_many(session, principal, renderer, body)


@router.get(
    "/{message_id}",
    summary="Get a message awaiting (or past) approval, with its preview",
    response_model=ApprovalOut,
    responses=problem_responses(
        401,
        404,
        422,
        codes={422: PREVIEW_CODES},
    ),
)
async def get_approval(
    message_id: uuid.UUID, session: TenantSession, renderer: TemplateRenderer
) -> ApprovalOut:
    """The message as it would be sent (rendered subject and body), its campaign and contact, and
    where it stands: pending, approved or rejected."""
    return await service.get_approval(session, renderer, message_id)


@router.post(
    "/{message_id}/approve",
    summary="Approve a message, optionally edited first; it is queued to send now",
    description=DECIDERS + NOT_PENDING + "`409 CAMPAIGN_NOT_ACTIVE` when its campaign is "
    "not active or paused. Edits follow the template rules of the message's channel "
    "(`TEMPLATE_SYNTAX_INVALID`, `TEMPLATE_UNKNOWN_TOKEN`, `TEMPLATE_FIELD_NOT_ALLOWED`, "
    "`TEMPLATE_TAG_NOT_ALLOWED`, `TEMPLATE_LIMIT_EXCEEDED`, ...).",
    response_model=ApprovalOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: STATE_CODES,
            422: [
                *TEMPLATE_RULE_CODES,
                "APPROVAL_EDIT_BLANK",
                "PREVIEW_MISSING_VALUES",
                "PREVIEW_RENDER_FAILED",
                "TEMPLATE_RENDER_FAILED",
            ],
        },
    ),
)
async def approve_message(
    message_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    renderer: TemplateRenderer,
    body: ApproveIn | None = None,
) -> ApprovalOut:
    return await service.approve(session, principal, renderer, message_id, body or ApproveIn())


@router.post(
    "/{message_id}/reject",
    summary="Reject a message; it is never sent",
    description=DECIDERS + NOT_PENDING + "Allowed whatever the campaign's status.",
    response_model=ApprovalOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: STATE_CODES,
            422: [*TEMPLATE_RULE_CODES, "APPROVAL_EDIT_BLANK", "PREVIEW_MISSING_VALUES"],
        },
    ),
)
async def reject_message(
    message_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    renderer: TemplateRenderer,
    body: RejectIn | None = None,
) -> ApprovalOut:
    return await service.reject(session, principal, renderer, message_id, body or RejectIn())
