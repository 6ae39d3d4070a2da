"""Webhook routes: the organization's outbound subscriptions, their delivery log, redelivery and
a test ping."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses
from outreach.kit.targets import OutboundGuard
from outreach.sending.senders.router import Secrets
from outreach.webhooks import service
from outreach.webhooks.schemas import (
    DeliveryOut,
    DeliveryStatus,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


MANAGERS_ONLY = "Admins and TA managers only (403 for other roles)."
SIGNING = (
    "Each event is POSTed as JSON `{type, timestamp, data}` signed the Standard Webhooks way "
    "(headers `webhook-id`, `webhook-timestamp`, `webhook-signature`; verify with the "
    "`standardwebhooks` library and the subscription's secret). A delivery that does not get "
    "a 2xx within 10 s is retried with exponential backoff (and jitter) for about a day, then "
    "fails; a subscription none of whose deliveries got through for that day is disabled with "
    "a `disabled_reason` (a `410 Gone` disables it at once)."
)
URL_RULE = (
    " A `url` that is (or resolves to) a link-local or cloud metadata address, or in "
    "production a loopback, private or CGNAT one, is refused with `422 TARGET_NOT_ALLOWED`; "
    "every connection checks it again, and follows at most 3 redirects (307 and 308 only)."
)


@router.post(
    "",
    summary="Subscribe a URL to events",
    description="Answers the subscription with its `secret` (`whsec_...`), shown this once. "
    + SIGNING
    + URL_RULE
    + " At most 20 per organization (`409 WEBHOOK_LIMIT_REACHED`). "
    + MANAGERS_ONLY,
    status_code=201,
    response_model=WebhookCreated,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        codes={
            409: ["WEBHOOK_LIMIT_REACHED"],
            422: ["WEBHOOK_URL_INVALID", "WEBHOOK_EVENT_TYPES_REQUIRED", "TARGET_NOT_ALLOWED"],
        },
    ),
)
async def create_webhook(
    body: WebhookIn,
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
        lambda: service.create_webhook(session, principal, secrets, guard, body),
    )


@router.get(
    "",
    summary="List webhook subscriptions, newest first",
    description=MANAGERS_ONLY,
    response_model=Page[WebhookOut],
    responses=problem_responses(401, 403, 422),
)
async def list_webhooks(
    session: TenantSession, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[WebhookOut]:
    return await service.list_webhooks(session, principal, limit=limit, cursor=cursor)


@router.get(
    "/{webhook_id}",
    summary="Get a webhook subscription",
    description=MANAGERS_ONLY,
    response_model=WebhookOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_webhook(
    webhook_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> WebhookOut:
    return await service.get_webhook(session, principal, webhook_id)


@router.patch(
    "/{webhook_id}",
    summary="Change a webhook subscription, or disable or enable it",
    description="Absent fields stay as they are. `enabled: false` disables it (its pending "
    "deliveries fail); `enabled: true` turns it back on and clears `disabled_reason`. "
    + URL_RULE
    + " "
    + MANAGERS_ONLY,
    response_model=WebhookOut,
    responses=problem_responses(
        401,
        403,
        404,
        422,
        codes={
            422: [
                "WEBHOOK_URL_INVALID",
                "WEBHOOK_EVENT_TYPES_REQUIRED",
                "TARGET_NOT_ALLOWED",
                "FIELD_REQUIRED",
            ]
        },
    ),
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: WebhookPatch,
    session: TenantSession,
    principal: CurrentPrincipal,
    guard: OutboundGuard,
) -> WebhookOut:
    return await service.update_webhook(session, principal, guard, webhook_id, body)


@router.delete(
    "/{webhook_id}",
    summary="Delete a webhook subscription and its delivery log",
    description=MANAGERS_ONLY,
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def delete_webhook(
    webhook_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_webhook(session, principal, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The subscription's delivery log, newest first",
    description="Each delivery with its status, attempts, and its last attempt's HTTP status, "
    "duration and the start of the answer (2 KB at most). Kept 30 days. " + MANAGERS_ONLY,
    response_model=Page[DeliveryOut],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_deliveries(
    webhook_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    return await service.list_deliveries(
        session, principal, webhook_id, status=status, limit=limit, cursor=cursor
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    summary="Send a delivered or failed event again",
    description="Queues the same message (same `webhook-id`, event and payload) as a new "
    "delivery, answered `202`. `409 WEBHOOK_DELIVERY_PENDING` while the delivery is still "
    "being attempted; `409 WEBHOOK_DISABLED` while the subscription is disabled. " + MANAGERS_ONLY,
    status_code=202,
    response_model=DeliveryOut,
    responses=problem_responses(
        401, 403, 404, 409, 422, codes={409: ["WEBHOOK_DISABLED", "WEBHOOK_DELIVERY_PENDING"]}
    ),
)
async def redeliver(
    webhook_id: uuid.UUID,
    delivery_id: uuid.UUID,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> DeliveryOut:
    return await service.redeliver(session, principal, webhook_id, delivery_id)


@router.post(
    "/{webhook_id}/ping",
    summary="Send a test event",
    description="Queues a `webhook.ping` event for the subscription (whatever its event "
    "types), answered `202` with the delivery; its outcome shows in the delivery log. "
    "`409 WEBHOOK_DISABLED` while the subscription is disabled. " + MANAGERS_ONLY,
    status_code=202,
    response_model=DeliveryOut,
    responses=problem_responses(401, 403, 404, 409, 422, codes={409: ["WEBHOOK_DISABLED"]}),
)
async def ping(
    webhook_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> DeliveryOut:
    return await service.ping(session, principal, webhook_id)
