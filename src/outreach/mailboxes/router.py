"""Mailbox routes: a sender's IMAP settings and their test."""

import uuid

from fastapi import APIRouter, Response

from outreach.auth.dependencies import CurrentPrincipal, TenantSession, TenantTransactions
from outreach.dependencies import SettingsDep
from outreach.kit.problems import problem_responses
from outreach.kit.targets import OutboundGuard
from outreach.mailboxes import service
from outreach.mailboxes.schemas import MailboxIn, MailboxTestOut
from outreach.sending.senders.router import Secrets
from outreach.sending.senders.schemas import SenderOut, host_codes

router = APIRouter(prefix="/senders/{sender_id}/mailbox", tags=["senders"])

MANAGERS_ONLY = "Admins and TA managers only. "


@router.put(
    "",
    summary="Set up the sender's mailbox (IMAP), read for replies, auto-replies and bounces",
    description=MANAGERS_ONLY + "Creates or replaces it and answers the sender, whose "
    "`mailbox` shows it (never its password or token). Replacing it clears its last error "
    "and makes it due for a sync at once; another host or user name is another mailbox, "
    "whose sync starts over from its first message (a message already recorded is not "
    "recorded again). Exactly one of `imap_password` or `oauth2_token`: both answer "
    "`422 MAILBOX_SECRET_CONFLICT`, neither `422 MAILBOX_SECRET_REQUIRED`. An `imap_host` "
    "that is (or resolves to) a link-local or cloud metadata address, or in production a "
    "loopback, private or CGNAT one (unless the operator allows them), is refused with "
    "`422 TARGET_NOT_ALLOWED`. The system sender has no mailbox: `409 "
    "SENDER_SYSTEM_READ_ONLY`.",
    response_model=SenderOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["SENDER_SYSTEM_READ_ONLY"],
            422: [
                *host_codes("MAILBOX"),
                "MAILBOX_SECRET_CONFLICT",
                "MAILBOX_SECRET_REQUIRED",
                "TARGET_NOT_ALLOWED",
            ],
        },
    ),
)
async def put_mailbox(
    sender_id: uuid.UUID,
    body: MailboxIn,
    session: TenantSession,
    principal: CurrentPrincipal,
    secrets: Secrets,
    guard: OutboundGuard,
) -> SenderOut:
    return await service.put_mailbox(session, principal, secrets, guard, sender_id, body)


@router.delete(
    "",
    summary="Stop reading the sender's mailbox (admins and TA managers)",
    description="Its settings and sync state are removed; what was read from it stays. "
    "`404 NOT_FOUND` when the sender has no mailbox.",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404),
)
async def delete_mailbox(
    sender_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_mailbox(session, principal, sender_id)
    return Response(status_code=204)


@router.post(
    "/test",
    summary="Check the sender's mailbox: connect, log in, open INBOX (admins and TA managers)",
    description="Answers how far it got (`connect`, `login`, `select`, or `done`) and why it "
    "stopped there: a wrong password, a host that does not answer, a TLS failure, a host the "
    "target guard refuses. A failure is recorded as the mailbox's `last_error`, a success "
    "clears it. Nothing in the mailbox is changed (INBOX is opened read-only). `404 "
    "NOT_FOUND` when the sender has no mailbox. At most `OUTREACH_SENDER_TESTS_PER_MINUTE` "
    "per organization per minute: then `429 RATE_LIMITED` with `Retry-After`; every answer "
    "carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`.",
    response_model=MailboxTestOut,
    responses=problem_responses(401, 403, 404, 429),
)
async def check_mailbox(
    sender_id: uuid.UUID,
    response: Response,
    transactions: TenantTransactions,
    principal: CurrentPrincipal,
    secrets: Secrets,
    guard: OutboundGuard,
    settings: SettingsDep,
) -> MailboxTestOut:
    result, allowance = await service.check_mailbox(
        transactions, principal, secrets, settings, guard, sender_id
    )
    response.headers.update(allowance.headers())
    return result
