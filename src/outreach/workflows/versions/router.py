"""Workflow and version routes: the draft graph, publishing, history, diff and rollback."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.dependencies import SettingsDep
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.workflows.graph.schemas import CanvasIn
from outreach.workflows.graph.validation import CODES
from outreach.workflows.versions import service
from outreach.workflows.versions.schemas import (
    PublishIn,
    VersionDetail,
    VersionDiff,
    VersionOut,
    WorkflowOut,
)

router = APIRouter(prefix="/campaigns/{campaign_id}", tags=["sequences"])

CANVAS_CODES = ["WORKFLOW_INVALID", "WORKFLOW_TRIGGER_COUNT"]

VersionNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="A version number")]
READ_ERRORS = problem_responses(401, 404)
WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)
WRITE_RULES = (
    "By the campaign's owner, an admin or a TA manager (else `403 FORBIDDEN`); a completed or "
    "archived campaign is `409 CAMPAIGN_READ_ONLY`."
)
INVALID = (
    "A canvas with problems is `422 WORKFLOW_INVALID`, whose `errors` name every problem by "
    "its node (`nodes.<id>`) or edge (`edges.<id>`) with its own code: "
    + "; ".join(f"`{code}` {meaning}" for code, meaning in CODES.items())
    + "."
)


def _base_url(request: Request, settings: SettingsDep) -> str:
    return settings.public_url or str(request.base_url).rstrip("/")


@router.get(
    "/workflow",
    summary="The campaign's draft sequence",
    description="A campaign never drawn has the default graph (trigger, one message on the "
    "contact's channel, exit). `trigger_url` is shown to those who may edit the campaign.",
    response_model=WorkflowOut,
    responses=READ_ERRORS,
)
async def get_workflow(
    campaign_id: uuid.UUID,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> WorkflowOut:
    return await service.get_workflow(session, principal, campaign_id, _base_url(request, settings))


@router.put(
    "/workflow",
    summary="Replace the draft sequence (validated)",
    description=f"{INVALID} {WRITE_RULES} The draft of an active or paused campaign may be "
    "edited: it reaches new enrollments once published, and contacts already enrolled finish "
    "the version they walk.",
    response_model=WorkflowOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={409: ["CAMPAIGN_READ_ONLY"], 422: CANVAS_CODES},
    ),
)
async def put_workflow(
    campaign_id: uuid.UUID,
    body: CanvasIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> WorkflowOut:
    return await service.save_draft(
        session, principal, campaign_id, body, _base_url(request, settings)
    )


@router.post(
    "/workflow/publish",
    summary="Publish the draft as a new immutable version",
    description="Snapshots the campaign's settings, the steps and the canvas; new enrollments "
    f"take the new version. The draft is checked again ({INVALID}) {WRITE_RULES}",
    status_code=201,
    response_model=VersionOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={409: ["CAMPAIGN_READ_ONLY"], 422: CANVAS_CODES},
    ),
)
async def publish_workflow(
    campaign_id: uuid.UUID,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    body: Annotated[PublishIn | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    description = body.change_description if body else None
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.publish_draft(session, principal, campaign_id, description),
    )


@router.get(
    "/versions",
    summary="The campaign's versions, newest first",
    response_model=Page[VersionOut],
    responses=READ_ERRORS,
)
async def list_versions(
    campaign_id: uuid.UUID, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[VersionOut]:
    """Every published version: number, change type and description, who published it and when."""
    return await service.list_versions(session, campaign_id, cursor, limit)


@router.get(
    "/versions/{version}",
    summary="One version's snapshot: campaign settings, steps and canvas",
    response_model=VersionDetail,
    responses=READ_ERRORS,
)
async def get_version(
    campaign_id: uuid.UUID, version: VersionNumber, session: TenantSession
) -> VersionDetail:
    """What version `version` was: the campaign's settings, steps and canvas, as published."""
    return await service.get_version(session, campaign_id, version)


@router.get(
    "/versions/{version}/diff/{other}",
    summary="What changed from one version to another",
    description="Nodes and edges (by id) added, removed and changed, with what changed in "
    "each (`config.<key>` for a node's config); campaign and workflow settings changed.",
    response_model=VersionDiff,
    responses=READ_ERRORS,
)
async def diff_versions(
    campaign_id: uuid.UUID,
    version: VersionNumber,
    other: VersionNumber,
    session: TenantSession,
) -> VersionDiff:
    return await service.diff_versions(session, campaign_id, version, other)


@router.post(
    "/versions/{version}/rollback",
    summary="Publish an earlier version's graph again, as a new version",
    description="The version's canvas becomes the draft and is published as the next version "
    "(its description says which it rolls back to). Campaign settings are not rolled back: "
    "change them on the campaign. The canvas is checked against today's templates "
    f"({INVALID}) {WRITE_RULES}",
    status_code=201,
    response_model=VersionOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={409: ["CAMPAIGN_READ_ONLY"], 422: CANVAS_CODES},
    ),
)
async def rollback_version(
    campaign_id: uuid.UUID,
    version: VersionNumber,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    body: Annotated[PublishIn | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    description = body.change_description if body else None
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.rollback(session, principal, campaign_id, version, description),
    )
