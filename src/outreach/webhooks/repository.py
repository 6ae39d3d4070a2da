"""Webhook queries: the subscriptions, and the delivery queue (claimed with SKIP LOCKED under a
lease, each attempt recorded only by the claim that made it). The deliveries of events are
written by the triggers of migration 0018_webhooks; the ones below are redeliveries and pings."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.jobs.runs import hold_due_times
from outreach.kit.keyset import Position
from outreach.models import WebhookDelivery, WebhookSubscription

# -- subscriptions -------------------------------------------------------------------------


async def count_subscriptions(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(WebhookSubscription)) or 0


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription | None:
    query = select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_subscriptions(
    session: AsyncSession, *, after: Position | None, limit: int
) -> Sequence[WebhookSubscription]:
    """Newest first, `limit + 1` rows at most (the extra one tells there is a next page)."""
    query = (
        select(WebhookSubscription)
        .order_by(WebhookSubscription.created_at.desc(), WebhookSubscription.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(tuple_(WebhookSubscription.created_at, WebhookSubscription.id) < after)
    return (await session.execute(query)).scalars().all()


async def add_subscription(
    session: AsyncSession, subscription: WebhookSubscription
) -> WebhookSubscription:
    session.add(subscription)
    await session.flush()
    await session.refresh(subscription)  # defaults and timestamps come from the database
    return subscription


async def update_subscription(
    session: AsyncSession, subscription: WebhookSubscription, changes: dict[str, Any]
) -> WebhookSubscription:
    for field, value in changes.items():
        setattr(subscription, field, value)
    await session.flush()
    await session.refresh(subscription)  # updated_at is set by a trigger
    return subscription


async def delete_subscription(session: AsyncSession, subscription: WebhookSubscription) -> None:
    """Its deliveries go with it (the foreign key cascades)."""
    await session.delete(subscription)
    await session.flush()


# name: disable (side effect: its pending deliveries fail with the reason; a claim in flight
# loses its lease, so its late answer is not recorded)
_DISABLE = text("""
WITH disabled AS (
  UPDATE webhook_subscriptions SET enabled = false, disabled_reason = :reason,
    disabled_at = now()
  WHERE id = :id AND enabled
    AND (CAST(:unless_delivered_since AS timestamptz) IS NULL OR last_success_at IS NULL
         OR last_success_at < CAST(:unless_delivered_since AS timestamptz))
  RETURNING id)
UPDATE webhook_deliveries d SET status = 'failed', next_attempt_at = NULL, lease = NULL,
  last_error = coalesce(d.last_error || ' / ', '') || 'the subscription was disabled'
FROM disabled WHERE d.subscription_id = disabled.id AND d.status = 'pending'
RETURNING d.id
""")
_DISABLED = text("SELECT NOT enabled FROM webhook_subscriptions WHERE id = :id")


async def disable(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    reason: str,
    *,
    unless_delivered_since: datetime | None = None,
) -> bool:
    """Disable the subscription with `reason` (unless something was delivered to it since
    `unless_delivered_since`, when given); its pending deliveries fail. Answers whether it is
    disabled now."""
    await session.execute(
        _DISABLE,
        {"id": subscription_id, "reason": reason, "unless_delivered_since": unless_delivered_since},
    )
    return bool(await session.scalar(_DISABLED, {"id": subscription_id}))


# -- deliveries ----------------------------------------------------------------------------


async def list_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    status: str | None,
    after: Position | None,
    limit: int,
) -> Sequence[WebhookDelivery]:
    """Newest first, `limit + 1` rows at most."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if after is not None:
        query = query.where(tuple_(WebhookDelivery.created_at, WebhookDelivery.id) < after)
    return (await session.execute(query)).scalars().all()


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.id == delivery_id
    )
    return (await session.execute(query)).scalar_one_or_none()


_ADD_DELIVERY = text("""
INSERT INTO webhook_deliveries (org_id, subscription_id, event_type, payload)
VALUES (:org_id, :subscription_id, :event_type, CAST(:payload AS jsonb))
RETURNING id
""")
# name: redeliver (a new row of the same message: same webhook-id, event and payload)
_REDELIVER = text("""
INSERT INTO webhook_deliveries (org_id, subscription_id, message_id, event_type, payload,
  redelivery_of)
SELECT org_id, subscription_id, message_id, event_type, payload, id FROM webhook_deliveries
WHERE subscription_id = :subscription_id AND id = :id
RETURNING id
""")


async def add_delivery(
    session: AsyncSession,
    org_id: uuid.UUID,
    subscription_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
) -> WebhookDelivery:
    params = {
        "org_id": org_id,
        "subscription_id": subscription_id,
        "event_type": event_type,
        "payload": json.dumps(payload),
    }
    added = (await session.execute(_ADD_DELIVERY, params)).scalar_one()
    return await _reread(session, subscription_id, added)


async def redeliver(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    params = {"subscription_id": subscription_id, "id": delivery_id}
    added = (await session.execute(_REDELIVER, params)).scalar_one()
    return await _reread(session, subscription_id, added)


async def _reread(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery:
    found = await get_delivery(session, subscription_id, delivery_id)
    assert found is not None  # just written in this transaction
    return found


@dataclass
class ClaimedDelivery:
    """A delivery this worker holds: `lease` names its claim; recording the attempt writes the
    row only while it still holds that lease, so a worker whose lease ran out and was claimed
    again never writes over the newer claim."""

    id: uuid.UUID
    org_id: uuid.UUID
    subscription_id: uuid.UUID
    message_id: uuid.UUID
    payload: dict[str, Any]
    attempts: int  # this one included
    lease: uuid.UUID
    created_at: datetime
    url: str
    secret_encrypted: str


# name: claim-due-deliveries (side effect: leases them: `next_attempt_at` moves to the lease's
# end and `lease` names this claim; other workers skip them until then, and take them again
# after it: a worker that died mid-delivery loses nothing)
# The due rows are chosen in a MATERIALIZED CTE, evaluated once: as a subquery in FROM, a
# nested loop ran it again for each delivery it read, and each run skipped the rows this
# statement had just claimed and locked the next due ones, past :limit.
_CLAIM_DUE = text("""
WITH due AS MATERIALIZED (
  SELECT d.id FROM webhook_deliveries d
  JOIN webhook_subscriptions s ON s.org_id = d.org_id AND s.id = d.subscription_id
  WHERE d.org_id = :org_id AND d.status = 'pending' AND d.next_attempt_at <= now()
    AND s.enabled
  ORDER BY d.next_attempt_at LIMIT :limit FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET lease = gen_random_uuid(), attempts = d.attempts + 1,
  next_attempt_at = now() + make_interval(secs => :lease)
FROM due, webhook_subscriptions s
WHERE d.org_id = :org_id AND d.id = due.id AND s.org_id = d.org_id AND s.id = d.subscription_id
RETURNING d.id, d.org_id, d.subscription_id, d.message_id, d.payload, d.attempts, d.lease,
  d.created_at, s.url, s.secret_encrypted
""")


async def claim_due(
    session: AsyncSession, org_id: uuid.UUID, limit: int, lease_seconds: float
) -> list[ClaimedDelivery]:
    rows = await session.execute(
        _CLAIM_DUE, {"org_id": org_id, "limit": limit, "lease": lease_seconds}
    )
    return [ClaimedDelivery(**row) for row in rows.mappings()]


# name: record-attempt (only while this claim holds the row)
_RECORD = text("""
UPDATE webhook_deliveries SET lease = NULL, status = :status, next_attempt_at = :next_attempt_at,
  last_attempt_at = :attempted_at, last_status_code = :status_code,
  last_duration_ms = :duration_ms, last_response = :response, last_error = :error,
  delivered_at = CASE WHEN :status = 'delivered' THEN now() END
WHERE id = :id AND lease = :lease
RETURNING id
""")
_DELIVERED_TO = text("UPDATE webhook_subscriptions SET last_success_at = now() WHERE id = :id")


@dataclass(frozen=True)
class Attempt:
    """What one attempt of a claimed delivery gave, to record."""

    status: str  # pending (to retry at next_attempt_at) / delivered / failed
    attempted_at: datetime
    next_attempt_at: datetime | None = None
    status_code: int | None = None
    duration_ms: int | None = None
    response: str | None = None
    error: str | None = None


async def record(session: AsyncSession, claimed: ClaimedDelivery, attempt: Attempt) -> bool:
    """Record the attempt; False when the claim no longer held the row (nothing written)."""
    params = {
        "id": claimed.id,
        "lease": claimed.lease,
        "status": attempt.status,
        "next_attempt_at": attempt.next_attempt_at,
        "attempted_at": attempt.attempted_at,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "response": attempt.response,
        "error": attempt.error,
    }
    held = (await session.execute(_RECORD, params)).scalar_one_or_none() is not None
    if held and attempt.status == "delivered":
        await session.execute(_DELIVERED_TO, {"id": claimed.subscription_id})
    return held


# The organization's next due delivery, after a pass changed them (see hold_due_times).
_NEXT_DUE = text("""
UPDATE tenant_directory SET webhook_due_at = (
  SELECT min(d.next_attempt_at) FROM webhook_deliveries d
  JOIN webhook_subscriptions s ON s.org_id = d.org_id AND s.id = d.subscription_id
  WHERE d.status = 'pending' AND s.enabled)
WHERE id = :org_id
""")


async def note_next_due(session: AsyncSession, org_id: uuid.UUID) -> None:
    await hold_due_times(session, org_id)
    await session.execute(_NEXT_DUE, {"org_id": org_id})


# name: forget-old-deliveries (the log keeps final deliveries for `days`)
_FORGET = text("""
DELETE FROM webhook_deliveries
WHERE status <> 'pending' AND created_at < now() - make_interval(days => :days)
""")


async def forget_old(session: AsyncSession, days: int) -> int:
    result = await session.execute(_FORGET, {"days": days})
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


# name: forget-contact-deliveries (an erasure: pending ones are never sent)
_FORGET_CONTACT = text("""
DELETE FROM webhook_deliveries WHERE payload -> 'data' ->> 'contact_id' = :contact_id
""")


async def forget_contact(session: AsyncSession, contact_id: uuid.UUID) -> int:
    result = await session.execute(_FORGET_CONTACT, {"contact_id": str(contact_id)})
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
