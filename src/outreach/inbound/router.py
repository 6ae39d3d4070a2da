"""Inbound provider events (authenticated by the org's secret, not a user token), and the
rotation of that secret."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.dependencies import Sessionmaker, SettingsDep
from outreach.inbound import service
from outreach.inbound.generic import GenericPayload
from outreach.inbound.schemas import InboundResult, InboundSecretOut
from outreach.inbound.signature import SIGNATURE_HEADER
from outreach.kit.openapi import documented_body
from outreach.kit.problems import problem_responses

router = APIRouter(prefix="/inbound", tags=["inbound"])

MAX_BODY_BYTES = 2 * 1024 * 1024  # per request, whatever OUTREACH_MAX_BODY_BYTES says


@router.post(
    "/secrets",
    summary="Create a new inbound secret (the previous one keeps working until the next)",
    response_model=InboundSecretOut,
    status_code=201,
    responses=problem_responses(401, 403),
)
async def rotate_secret(
    request: Request, session: TenantSession, principal: CurrentPrincipal, settings: SettingsDep
) -> InboundSecretOut:
    """The new secret is shown once. Signed events verify with it and with the previous one, so a
    provider can be moved to the new secret without losing events. Admins and TA managers only."""
    base_url = settings.public_url or str(request.base_url).rstrip("/")
    return await service.rotate_secret(session, principal, base_url)


@router.post(
    "/{provider}",
    summary="Record deliveries, bounces, complaints, replies and unsubscribes of a provider",
    description="Providers: `generic` (body signed with `X-Outreach-Signature: sha256=<hex>`), "
    "`ses` (SNS) and `postmark` (the webhook URL of `POST /inbound/secrets`, with its token).",
    response_model=InboundResult,
    openapi_extra=documented_body(
        GenericPayload,
        description="For `generic`; `ses` and `postmark` send their own formats.",
    ),
    responses=problem_responses(401, 404, 413, codes={422: ["INBOUND_FORMAT_INVALID"]}),
)
async def receive_inbound_events(
    provider: str,
    request: Request,
    sessionmaker: Sessionmaker,
    org: Annotated[
        uuid.UUID | None, Query(description="The organization the events belong to")
    ] = None,
    token: Annotated[str | None, Query(max_length=64)] = None,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, max_length=100)] = None,
) -> InboundResult:
    return await service.receive(
        sessionmaker, org, provider, await request.body(), signature, token
    )
