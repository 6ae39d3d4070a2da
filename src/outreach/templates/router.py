"""Message template routes: CRUD and previews."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.templates import service
from outreach.templates.dependencies import TemplateRenderer
from outreach.templates.schemas import (
    TEMPLATE_RULE_CODES,
    Channel,
    PreviewIn,
    PreviewOut,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
)

router = APIRouter(prefix="/templates", tags=["templates"])

TEMPLATE_CODES = [
    *TEMPLATE_RULE_CODES,
    "TEMPLATE_NAME_REQUIRED",
    "TEMPLATE_NAME_TOO_LONG",
    "VALUE_REQUIRED",
]

CHECKED = (
    "Templates are Jinja2 in a sandbox with limits: `{% include %}`, `{% import %}`, "
    "`{% extends %}`, `{% from %}` and recursive loops are refused "
    "(`422 TEMPLATE_TAG_NOT_ALLOWED`), and so is a template whose constant loops, `range()` "
    "or multiplications are over the rendering limits as written "
    "(`422 TEMPLATE_LIMIT_EXCEEDED`); see the README's Templates."
)


@router.post(
    "",
    summary="Create a message template",
    description=CHECKED,
    status_code=201,
    response_model=TemplateOut,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        codes={422: TEMPLATE_CODES},
    ),
)
async def create_template(
    body: TemplateIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    renderer: TemplateRenderer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.create_template(session, principal, renderer, body),
    )


@router.get(
    "",
    summary="List message templates, newest first",
    response_model=Page[TemplateOut],
    responses=problem_responses(401, 422),
)
async def list_templates(
    session: TenantSession,
    channel: Channel | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the name, any case")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[TemplateOut]:
    """The organization's templates. Filters: `channel`, `q` (name contains)."""
    return await service.list_templates(session, channel=channel, q=q, limit=limit, cursor=cursor)


@router.get(
    "/{template_id}",
    summary="Get a message template",
    response_model=TemplateOut,
    responses=problem_responses(401, 404, 422),
)
async def get_template(template_id: uuid.UUID, session: TenantSession) -> TemplateOut:
    """One template with its subject and bodies and the personalization tokens it uses."""
    return await service.get_template(session, template_id)


@router.patch(
    "/{template_id}",
    summary="Change a message template",
    description="Absent fields stay as they are, `null` clears an optional field; the "
    "resulting template is checked as a whole. " + CHECKED,
    response_model=TemplateOut,
    responses=problem_responses(
        401,
        403,
        404,
        422,
        codes={422: TEMPLATE_CODES},
    ),
)
async def update_template(
    template_id: uuid.UUID,
    body: TemplatePatch,
    session: TenantSession,
    principal: CurrentPrincipal,
    renderer: TemplateRenderer,
) -> TemplateOut:
    return await service.update_template(session, principal, renderer, template_id, body)


@router.delete(
    "/{template_id}",
    summary="Delete a message template",
    description="Refused with `409 TEMPLATE_IN_USE` while a campaign or campaign contact "
    "refers to it.",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422, codes={409: ["TEMPLATE_IN_USE"]}),
)
async def delete_template(
    template_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_template(session, principal, template_id)
    return Response(status_code=204)


@router.post(
    "/{template_id}/preview",
    summary="Render a message template with sample data or a contact",
    description="Rendered within the rendering limits (time: `OUTREACH_TEMPLATE_RENDER_SECONDS`, "
    "loop iterations, output size); a template over one answers `422 TEMPLATE_LIMIT_EXCEEDED`, "
    "one with a refused tag `422 TEMPLATE_TAG_NOT_ALLOWED`, one that fails otherwise "
    "(`{{ 1/0 }}`, a sandbox refusal) `422 TEMPLATE_RENDER_FAILED`.",
    response_model=PreviewOut,
    responses=problem_responses(
        401,
        404,
        422,
        codes={
            422: [
                "TEMPLATE_LIMIT_EXCEEDED",
                "TEMPLATE_NAME_REQUIRED",
                "TEMPLATE_NAME_TOO_LONG",
                "TEMPLATE_RENDER_FAILED",
                "TEMPLATE_SYNTAX_INVALID",
                "TEMPLATE_TAG_NOT_ALLOWED",
                "VALUE_REQUIRED",
            ]
        },
    ),
)
async def preview_template(
    template_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    renderer: TemplateRenderer,
    body: PreviewIn | None = None,
) -> PreviewOut:
    return await service.preview_template(
        session, principal, renderer, template_id, body or PreviewIn()
    )
