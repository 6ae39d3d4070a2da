"""What a tracking hit records: the token is checked in memory, the event is handed to the
batching writer (opens, clicks) or recorded at once (unsubscribes, which must never be lost).

Every event has an id under the provider "tracking": a hit's own for opens and clicks, so the
writer's replay of an event already written records nothing; the campaign contact's for a
one-click unsubscribe, so posting it again records nothing either.
"""

import secrets
from datetime import UTC, datetime

from fastapi import Request

from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.tracking.machines import is_machine_click, is_machine_open
from outreach.tracking.tokens import InvalidToken, TokenKind, TrackingToken

PROVIDER = "tracking"


def _verified(request: Request, text: str, kind: TokenKind) -> TrackingToken | None:
    try:
        token: TrackingToken = request.app.state.tracking_signer.verify(text)
    except InvalidToken:
        return None
    return token if token.kind is kind else None


def _client(request: Request) -> tuple[str | None, str | None]:
    ip = request.client.host if request.client else None
    return ip, request.headers.get("user-agent")


def _event(
    request: Request,
    token: TrackingToken,
    kind: EventType,
    *,
    is_machine: bool = False,
    event_id: str | None = None,
) -> NewEvent:
    ip, user_agent = _client(request)
    return NewEvent(
        campaign_contact_id=token.campaign_contact_id,
        event_type=kind,
        occurred_at=datetime.now(UTC),
        is_machine=is_machine,
        ip_address=ip,
        user_agent=user_agent,
        clicked_url=token.url,
        tracking_id=request.scope["path"][-22:],
        provider=PROVIDER,
        provider_event_id=event_id or secrets.token_hex(16),
    )


def record_open(request: Request, text: str) -> None:
    token = _verified(request, text, TokenKind.OPEN)
    if token is not None:
        ip, user_agent = _client(request)
        event = _event(request, token, EventType.OPENED, is_machine=is_machine_open(ip, user_agent))
        request.app.state.event_writer.submit(token.org_id, event)


def record_click(request: Request, text: str) -> str | None:
    """The link to redirect to, or None when the token does not verify."""
    token = _verified(request, text, TokenKind.CLICK)
    if token is None or token.url is None:
        return None
    ip, user_agent = _client(request)
    since_sent = (datetime.now(UTC) - token.issued_at).total_seconds()
    machine = is_machine_click(ip, user_agent, request.method, since_sent)
    event = _event(request, token, EventType.CLICKED, is_machine=machine)
    request.app.state.event_writer.submit(token.org_id, event)
    return token.url


def is_unsubscribe_token(request: Request, text: str) -> bool:
    return _verified(request, text, TokenKind.UNSUBSCRIBE) is not None


async def unsubscribe(request: Request, text: str) -> bool:
    """False when the token does not verify; raises when the database cannot record it."""
    token = _verified(request, text, TokenKind.UNSUBSCRIBE)
    if token is None:
        return False
    event = _event(
        request,
        token,
        EventType.UNSUBSCRIBED,
        event_id=f"unsubscribed:{token.campaign_contact_id}",
    )
    async with request.app.state.sessionmaker() as session:
        session.info["org_id"] = token.org_id
        async with session.begin():
            await record_events(session, token.org_id, [event])
    return True
