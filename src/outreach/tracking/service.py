"""What a tracking hit records: the token is checked in memory, the event is handed to the
batching writer (opens, clicks) or recorded at once (unsubscribes, which must never be lost).

Every event has an id under the provider "tracking": a hit's own for opens and clicks, so the
writer's replay of an event already written records nothing; the campaign contact's for a
one-click unsubscribe (and its undo), numbered by how often it was undone, so posting it
again records nothing either while an unsubscribe made again after an undo is recorded.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.events.writer import EventWriter
from outreach.kit.tenancy import org_session
from outreach.observability.metrics import TRACKING_HITS
from outreach.suppressions.service import lift_unsubscribe
from outreach.tracking import repository
from outreach.tracking.machines import is_machine_click, is_machine_open
from outreach.tracking.tokens import InvalidToken, TokenKind, TrackingSigner, TrackingToken

PROVIDER = "tracking"


@dataclass(frozen=True, slots=True)
class Hit:
    """What a tracking request tells of who made it."""

    ip: str | None
    user_agent: str | None
    method: str
    path: str


# Bound once: the pixel is the service's hottest path.
_HITS = {
    (kind, valid): TRACKING_HITS.labels(kind, "valid" if valid else "invalid")
    for kind in ("open", "click", "unsubscribe")
    for valid in (True, False)
}


def _verified(signer: TrackingSigner, text: str, kind: TokenKind) -> TrackingToken | None:
    try:
        token = signer.verify(text)
    except InvalidToken:
        return None
    return token if token.kind is kind else None


def _event(
    hit: Hit,
    token: TrackingToken,
    kind: EventType,
    *,
    is_machine: bool = False,
    event_id: str | None = None,
) -> NewEvent:
    return NewEvent(
        campaign_contact_id=token.campaign_contact_id,
        event_type=kind,
        occurred_at=datetime.now(UTC),
        is_machine=is_machine,
        ip_address=hit.ip,
        user_agent=hit.user_agent,
        clicked_url=token.url,
        tracking_id=hit.path[-22:],
        provider=PROVIDER,
        provider_event_id=event_id or secrets.token_hex(16),
    )


def record_open(signer: TrackingSigner, writer: EventWriter, hit: Hit, text: str) -> None:
    token = _verified(signer, text, TokenKind.OPEN)
    _HITS["open", token is not None].inc()
    if token is not None:
        machine = is_machine_open(hit.ip, hit.user_agent)
        writer.submit(token.org_id, _event(hit, token, EventType.OPENED, is_machine=machine))


def record_click(signer: TrackingSigner, writer: EventWriter, hit: Hit, text: str) -> str | None:
    """The link to redirect to, or None when the token does not verify."""
    token = _verified(signer, text, TokenKind.CLICK)
    _HITS["click", token is not None and token.url is not None].inc()
    if token is None or token.url is None:
        return None
    since_sent = (datetime.now(UTC) - token.issued_at).total_seconds()
    machine = is_machine_click(hit.ip, hit.user_agent, hit.method, since_sent)
    writer.submit(token.org_id, _event(hit, token, EventType.CLICKED, is_machine=machine))
    return token.url


def is_unsubscribe_token(signer: TrackingSigner, text: str) -> bool:
    return _verified(signer, text, TokenKind.UNSUBSCRIBE) is not None


@dataclass(frozen=True, slots=True)
class LinkPage:
    """What an unsubscribe link's page says: whose organization, which address (None when
    the campaign contact is gone or erased), and where it stands."""

    org_name: str | None
    email: str | None
    unsubscribed: bool
    # After an undo: the address is still on the do-not-contact list, put there by something
    # else than this link (an earlier request, a complaint, a bounce, a person)
    still_suppressed: bool = False


def _page(
    member: repository.LinkMember | None, unsubscribed: bool, still_suppressed: bool = False
) -> LinkPage:
    if member is None:
        return LinkPage(None, None, unsubscribed)
    return LinkPage(member.org_name, member.email, unsubscribed, still_suppressed)


async def link_page(
    signer: TrackingSigner, sessionmaker: async_sessionmaker[AsyncSession], text: str
) -> LinkPage | None:
    """The page a GET shows (it changes nothing); None when the token does not verify."""
    token = _verified(signer, text, TokenKind.UNSUBSCRIBE)
    if token is None:
        return None
    async with org_session(sessionmaker, token.org_id) as session, session.begin():
        member = await repository.link_member(session, token.campaign_contact_id, PROVIDER)
    return _page(member, member is not None and member.unsubscribed)


async def unsubscribe(
    signer: TrackingSigner,
    sessionmaker: async_sessionmaker[AsyncSession],
    hit: Hit,
    text: str,
) -> LinkPage | None:
    """None when the token does not verify; raises when the database cannot record it."""
    token = _verified(signer, text, TokenKind.UNSUBSCRIBE)
    _HITS["unsubscribe", token is not None].inc()
    if token is None:
        return None
    member_id = token.campaign_contact_id
    async with org_session(sessionmaker, token.org_id) as session, session.begin():
        member = await repository.link_member(session, member_id, PROVIDER)
        if member is not None and not member.unsubscribed:
            undone = member.resubscribes
            event_id = f"unsubscribed:{member_id}" + (f":{undone}" if undone else "")
            event = _event(hit, token, EventType.UNSUBSCRIBED, event_id=event_id)
            await record_events(session, token.org_id, [event])
    return _page(member, unsubscribed=True)


async def resubscribe(
    signer: TrackingSigner,
    sessionmaker: async_sessionmaker[AsyncSession],
    hit: Hit,
    text: str,
) -> LinkPage | None:
    """Undo the link's unsubscribe: record it, and lift the suppression only if that
    unsubscribe made it. None when the token does not verify."""
    token = _verified(signer, text, TokenKind.UNSUBSCRIBE)
    if token is None:
        return None
    member_id = token.campaign_contact_id
    async with org_session(sessionmaker, token.org_id) as session, session.begin():
        member = await repository.link_member(session, member_id, PROVIDER)
        if member is None:
            return _page(member, unsubscribed=False)
        if member.unsubscribed:  # else undone already: a repeat records nothing
            generation = len(member.unsubscribe_ids)
            undo = _event(
                hit,
                token,
                EventType.RESUBSCRIBED,
                event_id=f"resubscribed:{member_id}:{generation}",
            )
            await record_events(session, token.org_id, [undo])
        still = member.email is not None and await lift_unsubscribe(
            session, member.email, member.unsubscribe_ids if member.unsubscribed else []
        )
    return _page(member, unsubscribed=False, still_suppressed=still)
