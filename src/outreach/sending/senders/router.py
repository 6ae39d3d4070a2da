"""Sender routes: the mailboxes an organization sends from, their limits and warm-up."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession, TenantTransactions
from outreach.dependencies import SettingsDep
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.kit.targets import OutboundGuard
from outreach.sending.secrets import SenderSecrets, sender_secrets
from outreach.sending.senders import service
from outreach.sending.senders.schemas import (
    ConnectionCheckOut,
    SenderIn,
    SenderOut,
    SenderPatch,
    host_codes,
)

router = APIRouter(prefix="/senders", tags=["senders"])

SENDER_FIELD_CODES = [
    *host_codes("SENDER"),
    "SENDER_EMAIL_INVALID",
    "SENDER_THRESHOLD_INVALID",
    "SENDER_WARMUP_INVALID",
    "TARGET_NOT_ALLOWED",
    "VALUE_REQUIRED",
]


async def get_sender_secrets(settings: SettingsDep) -> SenderSecrets:
    return sender_secrets(tuple(settings.sender_secret_keys))


Secrets = Annotated[SenderSecrets, Depends(get_sender_secrets)]

MANAGERS_ONLY = "Admins and TA managers only; the SMTP password is write-only."
SMTP_HOST_RULE = (
    " An `smtp_host` that is (or resolves to) a link-local or cloud metadata address, or in "
    "production a loopback, private or CGNAT one (unless the operator allows them), is refused "
    "with `422 TARGET_NOT_ALLOWED`; every connection checks it again."
)


@router.post(
    "",
    summary="Add a sender",
    description=MANAGERS_ONLY + " Refused with `409 SENDER_EXISTS` when the organization "
    "already has a sender with this `from_email` (in any case)." + SMTP_HOST_RULE,
    status_code=201,
    response_model=SenderOut,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        codes={
            409: ["SENDER_EXISTS"],
            422: SENDER_FIELD_CODES,
        },
    ),
)
async def create_sender(
    body: SenderIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    secrets: Secrets,
    guard: OutboundGuard,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.create_sender(session, principal, secrets, guard, body),
    )


@router.get(
    "",
    summary="List senders, newest first",
    response_model=Page[SenderOut],
    responses=problem_responses(401, 422),
)
async def list_senders(
    session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[SenderOut]:
    """The organization's sending mailboxes with their limits, warm-up, what they may still send
    today, breaker state and mailbox sync state. SMTP passwords are never returned."""
    return await service.list_senders(session, limit=limit, cursor=cursor)


@router.get(
    "/{sender_id}",
    summary="Get a sender",
    response_model=SenderOut,
    responses=problem_responses(401, 404, 422),
)
async def get_sender(sender_id: uuid.UUID, session: TenantSession) -> SenderOut:
    """One sending mailbox; the SMTP password is never returned."""
    return await service.get_sender(session, sender_id)


@router.patch(
    "/{sender_id}",
    summary="Change a sender",
    description="Absent fields stay as they are, `null` clears an optional field (`null` "
    "for `smtp_password` removes the password). A system sender's address and SMTP fields "
    "are refused with `409 SENDER_SYSTEM_READ_ONLY`. " + MANAGERS_ONLY + SMTP_HOST_RULE,
    response_model=SenderOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["SENDER_EXISTS", "SENDER_SYSTEM_READ_ONLY"],
            422: SENDER_FIELD_CODES,
        },
    ),
)
async def update_sender(
    sender_id: uuid.UUID,
    body: SenderPatch,
    session: TenantSession,
    principal: CurrentPrincipal,
    secrets: Secrets,
    guard: OutboundGuard,
) -> SenderOut:
    return await service.update_sender(session, principal, secrets, guard, sender_id, body)


@router.post(
    "/{sender_id}/resume",
    summary="Resume a paused sender (admins and TA managers)",
    description="Clears the circuit breaker's pause; from now on only new sends count toward "
    "its bounce and complaint rates (`breaker_reset_at`).",
    response_model=SenderOut,
    responses=problem_responses(401, 403, 404),
)
async def resume_sender(
    sender_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> SenderOut:
    return await service.resume_sender(session, principal, sender_id)


@router.delete(
    "/{sender_id}",
    summary="Delete a sender (admins and TA managers)",
    description="Refused with `409 SENDER_IN_USE` while outbox messages name it.",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 409, 422, codes={409: ["SENDER_IN_USE"]}),
)
async def delete_sender(
    sender_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_sender(session, principal, sender_id)
    return Response(status_code=204)


@router.post(
    "/{sender_id}/test",
    summary="Check the sender's SMTP connection and login (admins and TA managers)",
    description="Connects (with STARTTLS when configured), logs in when the sender has a "
    "username, and answers how far it got. Until an SMTP server greets, every failure "
    "(nothing listening, silence, timeout, TLS, not SMTP) answers the same `connect` failure. "
    "At most `OUTREACH_SENDER_TESTS_PER_MINUTE` per organization per minute: then "
    "`429 RATE_LIMITED` with `Retry-After`; every answer carries `RateLimit-Limit`, "
    "`RateLimit-Remaining` and `RateLimit-Reset`.",
    response_model=ConnectionCheckOut,
    responses=problem_responses(401, 403, 404, 429),
)
async def check_sender(
    sender_id: uuid.UUID,
    response: Response,
    transactions: TenantTransactions,
    principal: CurrentPrincipal,
    secrets: Secrets,
    guard: OutboundGuard,
    settings: SettingsDep,
) -> ConnectionCheckOut:
    result, allowance = await service.check_sender(
        transactions, principal, secrets, settings, guard, sender_id
    )
    response.headers.update(allowance.headers())
    return result
