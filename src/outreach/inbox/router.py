"""Inbox routes: contacts' replies across campaigns, read, and answered in their thread."""

import uuid

from fastapi import APIRouter

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.dependencies import SettingsDep
from outreach.inbox import service
from outreach.inbox.repository import InboxFilters
from outreach.inbox.schemas import AnswerIn, InboxItemOut, InboxReplyOut
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.kit.targets import OutboundGuard
from outreach.sending.senders.router import Secrets

router = APIRouter(prefix="/inbox", tags=["inbox"])

ACTORS = "By the campaign's owner, an admin or a TA manager (else `403 FORBIDDEN`). "


@router.get(
    "",
    summary="List replies across campaigns, newest first",
    description="Contacts' replies read from the senders' mailboxes. Without `owner_id`, "
    "recruiters and viewers see the replies to their own campaigns and admins and TA managers "
    "the whole organization's. `unread=true` keeps the ones not marked read.",
    response_model=Page[InboxItemOut],
    responses=problem_responses(401, 422),
)
async def list_replies(
    session: TenantSession,
    principal: CurrentPrincipal,
    campaign_id: uuid.UUID | None = None,
    sender_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    unread: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InboxItemOut]:
    filters = InboxFilters(
        campaign_id=campaign_id, sender_id=sender_id, owner_id=owner_id, unread=unread
    )
    return await service.list_replies(session, principal, filters, limit=limit, cursor=cursor)


@router.get(
    "/{reply_id}",
    summary="Get a reply with its thread",
    response_model=InboxReplyOut,
    responses=problem_responses(401, 404),
)
async def get_reply(reply_id: uuid.UUID, session: TenantSession) -> InboxReplyOut:
    """The reply with its text (quoted history and signature trimmed), its campaign and contact, and
    the thread it answers."""
    return await service.get_reply(session, reply_id)


@router.post(
    "/{reply_id}/read",
    summary="Mark a reply read",
    description=ACTORS + "Marking it again keeps the first `read_at`.",
    response_model=InboxItemOut,
    responses=problem_responses(401, 403, 404),
)
async def mark_read(
    reply_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> InboxItemOut:
    return await service.mark_read(session, principal, reply_id)


@router.post(
    "/{reply_id}/reply",
    summary="Answer a reply in its thread, through the sender it came to",
    description=ACTORS + "Sent to the contact from the reply's sender over its SMTP server, "
    "with `Subject: Re: ...`, `In-Reply-To` and `References` naming the reply, and counted "
    "toward the sender's hourly and daily limits. Refused with `409 SENDER_PAUSED`, `409 "
    "SENDER_LIMIT_REACHED` or `409 ADDRESS_SUPPRESSED`; when the SMTP server does not take "
    "it, `502 REPLY_NOT_SENT` with the server's words, and nothing is recorded. Answers the "
    "reply, now `answered_at`, with its thread holding the answer.",
    response_model=InboxReplyOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        502,
        codes={
            409: ["ADDRESS_SUPPRESSED", "SENDER_LIMIT_REACHED", "SENDER_PAUSED"],
            502: ["REPLY_NOT_SENT"],
        },
    ),
)
async def answer_reply(
    reply_id: uuid.UUID,
    body: AnswerIn,
    session: TenantSession,
    principal: CurrentPrincipal,
    secrets: Secrets,
    settings: SettingsDep,
    guard: OutboundGuard,
) -> InboxReplyOut:
    return await service.answer(session, principal, secrets, settings, guard, reply_id, body)
