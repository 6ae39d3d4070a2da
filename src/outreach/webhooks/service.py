"""Webhook subscription rules: admins and TA managers set them up and read their deliveries
(the payloads carry contacts' addresses); the secret is made here, shown once, kept encrypted;
a URL the outbound guard refuses is refused when saved (and checked again at every connection).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.kit.targets import TargetGuard, TargetRefused
from outreach.kit.webhooks import new_signing_secret
from outreach.models import WebhookDelivery, WebhookSubscription
from outreach.sending.secrets import SenderSecrets
from outreach.webhooks import repository
from outreach.webhooks.schemas import (
    PING,
    DeliveryOut,
    DeliveryStatus,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

MAX_SUBSCRIPTIONS = 20  # per organization
DISABLED_BY_USER = "Disabled through the API"


def webhook_out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut.model_validate(subscription, from_attributes=True)


def delivery_out(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        webhook_id=webhook_id_of(delivery.message_id),
        **{
            name: getattr(delivery, name)
            for name in DeliveryOut.model_fields
            if name != "webhook_id"
        },
    )


def webhook_id_of(message_id: uuid.UUID) -> str:
    """The `webhook-id` header of a message (its deliveries and redeliveries share it)."""
    return f"msg_{message_id.hex}"


async def check_url(guard: TargetGuard, url: str) -> None:
    """422 TARGET_NOT_ALLOWED for a URL whose host the outbound guard refuses now."""
    parsed = httpx.URL(url)  # the schema checked it already
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        await guard.check(parsed.host, port)
    except TargetRefused as exc:
        raise ValidationFailed.field("url", "TARGET_NOT_ALLOWED", str(exc)) from None


async def create_webhook(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    guard: TargetGuard,
    body: WebhookIn,
) -> WebhookCreated:
    require_manager(principal)
    if await repository.count_subscriptions(session) >= MAX_SUBSCRIPTIONS:
        raise Conflict(
            "WEBHOOK_LIMIT_REACHED",
            f"An organization has at most {MAX_SUBSCRIPTIONS} webhook subscriptions",
            "Delete one, or add event types to one that goes to the same URL.",
        )
    await check_url(guard, body.url)
    secret = new_signing_secret()
    created = await repository.add_subscription(
        session,
        WebhookSubscription(
            org_id=principal.org_id,
            url=body.url,
            description=body.description,
            event_types=[str(kind) for kind in body.event_types],
            secret_encrypted=secrets.encrypt(secret),
        ),
    )
    return WebhookCreated(**webhook_out(created).model_dump(), secret=secret)


async def list_webhooks(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> Page[WebhookOut]:
    require_manager(principal)
    rows = await repository.list_subscriptions(session, after=position_after(cursor), limit=limit)
    return page_of(rows, limit, webhook_out)


async def get_webhook(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> WebhookOut:
    require_manager(principal)
    return webhook_out(await _get(session, subscription_id))


async def update_webhook(
    session: AsyncSession,
    principal: Principal,
    guard: TargetGuard,
    subscription_id: uuid.UUID,
    patch: WebhookPatch,
) -> WebhookOut:
    require_manager(principal)
    subscription = await _get(session, subscription_id, for_update=True)
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True)
    for name in ("url", "event_types", "description", "enabled"):
        if name in changes and changes[name] is None:
            raise ValidationFailed.field(name, "FIELD_REQUIRED", f"{name} cannot be null")
    if "url" in changes:
        await check_url(guard, changes["url"])
    if "event_types" in changes:
        changes["event_types"] = [str(kind) for kind in changes["event_types"]]
    enabled = changes.pop("enabled", None)
    if enabled is True and not subscription.enabled:
        changes |= {"enabled": True, "disabled_reason": None, "disabled_at": None}
    updated = await repository.update_subscription(session, subscription, changes)
    if enabled is False and updated.enabled:
        await repository.disable(session, subscription_id, DISABLED_BY_USER)
        await session.refresh(updated)
    return webhook_out(updated)


async def delete_webhook(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> None:
    require_manager(principal)
    await repository.delete_subscription(
        session, await _get(session, subscription_id, for_update=True)
    )


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    subscription_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[DeliveryOut]:
    require_manager(principal)
    await _get(session, subscription_id)
    rows = await repository.list_deliveries(
        session, subscription_id, status=status, after=position_after(cursor), limit=limit
    )
    return page_of(rows, limit, delivery_out)


async def redeliver(
    session: AsyncSession,
    principal: Principal,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> DeliveryOut:
    """The same message (webhook-id, event, payload) queued again, as a new delivery."""
    require_manager(principal)
    _enabled(await _get(session, subscription_id))
    original = await repository.get_delivery(session, subscription_id, delivery_id)
    if original is None:
        raise not_found("Delivery")
    if original.status == "pending":
        raise Conflict(
            "WEBHOOK_DELIVERY_PENDING",
            "This delivery is still being attempted",
            "Redeliver it once it is delivered or has failed.",
        )
    return delivery_out(await repository.redeliver(session, subscription_id, delivery_id))


async def ping(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> DeliveryOut:
    """A test event queued for the subscription, whatever its event types."""
    require_manager(principal)
    subscription = _enabled(await _get(session, subscription_id))
    now = datetime.now(UTC)
    payload = {
        "type": PING,
        "timestamp": now.isoformat(),
        "data": {"webhook": str(subscription.id), "sent_by": str(principal.user_id)},
    }
    delivery = await repository.add_delivery(
        session, principal.org_id, subscription.id, PING, payload
    )
    return delivery_out(delivery)


def _enabled(subscription: WebhookSubscription) -> WebhookSubscription:
    if not subscription.enabled:
        raise Conflict(
            "WEBHOOK_DISABLED",
            "The webhook subscription is disabled",
            f"{subscription.disabled_reason} Enable it (PATCH enabled: true) first.",
        )
    return subscription


async def _get(
    session: AsyncSession, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription:
    found = await repository.get_subscription(session, subscription_id, for_update=for_update)
    if found is None:
        raise not_found("Webhook")
    return found


async def forget_contact(session: AsyncSession, contact_id: uuid.UUID) -> int:
    """A person's erasure: the deliveries about them go from the log, and those not sent yet
    are never sent (their payloads name the person)."""
    return await repository.forget_contact(session, contact_id)
