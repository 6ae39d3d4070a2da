"""Inbound provider requests: authenticate by the org's secret, parse, find each event's
campaign contact, record. And the org's inbound secrets themselves."""

import logging
import secrets
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal
from outreach.errors import Unauthorized, ValidationFailed, not_found
from outreach.events.schemas import Outcome
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.inbound import signature
from outreach.inbound.events import InboundEvent, InboundFormatError
from outreach.inbound.parse import PROVIDERS, parse
from outreach.inbound.schemas import InboundResult, InboundSecretOut
from outreach.kit.tenancy import org_session

log = logging.getLogger(__name__)

KEPT_SECRETS = 2  # the newest signs; the one before still verifies while senders move over

_EVENT_TYPES = {
    "delivered": EventType.DELIVERED,
    "bounced": EventType.BOUNCED,
    "spam_reported": EventType.SPAM_REPORTED,
    "unsubscribed": EventType.UNSUBSCRIBED,
}

# Without our own id in the payload, the latest message sent to that address is the one.
_BY_RECIPIENT = text("""
SELECT cc.id FROM campaign_contacts cc
JOIN contacts p ON p.org_id = cc.org_id AND p.id = cc.contact_id
WHERE lower(p.email) = :email AND cc.email_sent_at IS NOT NULL
ORDER BY cc.email_sent_at DESC
LIMIT 1
""")


async def _org_secrets(session: AsyncSession) -> list[str]:
    found = await session.scalar(text("SELECT inbound_secrets FROM organizations"))
    return list(found or [])


async def receive(
    sessionmaker: async_sessionmaker[AsyncSession],
    org_id: uuid.UUID | None,
    provider: str,
    body: bytes,
    signature_header: str | None,
    url_token: str | None,
) -> InboundResult:
    """One transaction in the named organization. An organization that does not exist has
    no secrets, so it is refused exactly like a wrong signature: nothing tells them apart."""
    if org_id is None:
        raise Unauthorized(detail="Name the organization: ?org=<id> (see POST /inbound/secrets).")
    if provider not in PROVIDERS:
        raise not_found("Inbound provider")
    async with org_session(sessionmaker, org_id) as session, session.begin():
        return await _receive(session, org_id, provider, body, signature_header, url_token)


async def _receive(
    session: AsyncSession,
    org_id: uuid.UUID,
    provider: str,
    body: bytes,
    signature_header: str | None,
    url_token: str | None,
) -> InboundResult:
    org_secrets = await _org_secrets(session)
    authentic = signature.verify(org_secrets, body, signature_header) or (
        signature.verify_url_token(org_secrets, org_id, provider, url_token)
    )
    if not authentic:
        raise Unauthorized(
            detail="Sign the body (X-Outreach-Signature) or use the webhook URL with its token."
        )
    try:
        parsed = parse(provider, body)
    except InboundFormatError as exc:
        raise ValidationFailed.field("body", "INBOUND_FORMAT_INVALID", str(exc)) from exc
    if parsed.subscribe_url:
        log.warning("confirm the SNS subscription of org %s: %s", org_id, parsed.subscribe_url)

    events, unmatched = [], 0
    for inbound in parsed.events:
        contact_id = inbound.campaign_contact_id or await session.scalar(
            _BY_RECIPIENT, {"email": inbound.recipient}
        )
        if contact_id is None:
            unmatched += 1
        else:
            events.append(_new_event(inbound, contact_id))
    outcomes = await record_events(session, org_id, events) if events else []
    return InboundResult(
        recorded=outcomes.count(Outcome.RECORDED),
        duplicates=outcomes.count(Outcome.DUPLICATE),
        unmatched=unmatched + outcomes.count(Outcome.UNKNOWN_CONTACT),
        ignored=parsed.ignored,
        subscription_confirmation_url=parsed.subscribe_url,
    )


def _new_event(inbound: InboundEvent, contact_id: uuid.UUID) -> NewEvent:
    if inbound.event_type == "response_received":
        kind = EventType.AUTO_REPLIED if inbound.is_auto_reply else EventType.RESPONSE_RECEIVED
    else:
        kind = _EVENT_TYPES[inbound.event_type]
    data = {
        "bounce_type": inbound.bounce_type,
        "reason": inbound.reason,
        "response_text": inbound.reply_text,
        "message_id": inbound.message_id,
        "provider_type": inbound.raw_type,
        "channel": "email" if kind is EventType.RESPONSE_RECEIVED else None,
    }
    return NewEvent(
        campaign_contact_id=contact_id,
        event_type=kind,
        occurred_at=inbound.occurred_at,
        data={key: value for key, value in data.items() if value is not None},
        provider=inbound.provider,
        provider_event_id=inbound.provider_event_id,
    )


async def rotate_secret(
    session: AsyncSession, principal: Principal, base_url: str
) -> InboundSecretOut:
    """A new inbound secret (shown this once) and the webhook URLs it signs; the previous
    secret keeps working until the next rotation."""
    require_manager(principal)
    secret = secrets.token_urlsafe(32)
    await session.execute(
        text(
            "UPDATE organizations SET inbound_secrets = "
            "(ARRAY[CAST(:secret AS text)] || inbound_secrets)[1:2]"
        ),
        {"secret": secret},
    )
    urls = {
        provider: f"{base_url}/api/v1/inbound/{provider}?org={principal.org_id}"
        f"&token={signature.url_token(secret, principal.org_id, provider)}"
        for provider in PROVIDERS
    }
    return InboundSecretOut(secret=secret, kept_secrets=KEPT_SECRETS, webhook_urls=urls)
