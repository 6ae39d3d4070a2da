"""The webhook action: the user's URL called with the node's payload filled in for the contact,
signed and sent the Standard Webhooks way by `kit/webhooks` (the guard, the time limit, the
redirects, the bounded answer). The result says whether trying again may help, and
`retry_delay` how long to wait before the engine does.
"""

import json
import random
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import httpx
from jinja2 import TemplateError

from outreach.kit.webhooks import (
    TIMEOUT_SECONDS,
    WebhookResult,
    backoff,
    send_signed,
    short,
)
from outreach.templates.rendering import Personalization, Renderer, render
from outreach.templates.sandbox import budget
from outreach.workflows.graph.schemas import WebhookAction

MAX_DEPTH = 8  # of nested objects and lists in the payload
MAX_VALUES = 500  # strings, numbers, objects and lists in the payload
MAX_BODY_BYTES = 256 * 1024
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)


class PayloadError(ValueError):
    """The payload is over the bounds: too deep, too many values, too large."""


def render_payload(
    payload: Mapping[str, Any], personalization: Personalization, *, seconds: float
) -> dict[str, Any]:
    """The payload with every string value rendered as a template for the contact, nested
    objects and lists too, all within one render budget of `seconds`. Raises PayloadError over
    MAX_DEPTH or MAX_VALUES, `jinja2.TemplateError` for a template that fails."""
    count = 0

    def filled(value: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_VALUES:
            raise PayloadError(f"the payload has more than {MAX_VALUES} values")
        if depth > MAX_DEPTH:
            raise PayloadError(f"the payload is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            return render(value, personalization)
        if isinstance(value, Mapping):
            return {str(key): filled(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [filled(item, depth + 1) for item in value]
        return value

    with budget(seconds):
        return {str(key): filled(value, 1) for key, value in payload.items()}


async def call_webhook(
    action: WebhookAction,
    personalization: Personalization,
    *,
    webhook_id: str,
    secret: str,
    http: httpx.AsyncClient,
    renderer: Renderer,
    time_limit: float = TIMEOUT_SECONDS,
) -> WebhookResult:
    """One attempt of the action for one contact. `webhook_id` names the delivery (the same on
    its retries), `secret` signs it (the campaign workflow's signing secret), `http` is a
    `webhook_client`. Never raises for what the user's URL, payload or server do."""
    try:
        payload = await renderer.run(
            lambda: render_payload(action.payload, personalization, seconds=renderer.seconds)
        )
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TemplateError, ValueError) as exc:  # PayloadError, and NaN that JSON cannot carry
        return WebhookResult(webhook_id, ok=False, error=short(f"the payload: {exc}"))
    if len(body.encode()) > MAX_BODY_BYTES:
        error = f"the payload is over {MAX_BODY_BYTES // 1024} KB once filled in"
        return WebhookResult(webhook_id, ok=False, error=error)
    return await send_signed(
        http,
        action.method,
        action.url,
        body,
        webhook_id=webhook_id,
        secret=secret,
        time_limit=time_limit,
    )


def retry_delay(
    attempt: int,
    retry_after: timedelta | None = None,
    *,
    draw: Callable[[], float] = random.random,
) -> timedelta:
    """How long to wait before retry number `attempt` (1: the first retry): RETRY_BASE doubled
    at each attempt up to RETRY_CAP, with jitter (see `kit.webhooks.backoff`)."""
    return backoff(attempt, retry_after, base=RETRY_BASE, cap=RETRY_CAP, draw=draw)
