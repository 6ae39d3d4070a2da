"""The webhook action: the user's URL called with the node's payload filled in for the contact,
signed the Standard Webhooks way, only where the outbound guard allows, within a time limit, its
answer read no further than a few KB. The result says whether trying again may help, and
`retry_delay` how long to wait before the engine does.

Signed with the `standardwebhooks` package, so a receiver checks us with the same library:
headers `webhook-id` (the same on every attempt of one delivery, so the receiver can drop a
repeat), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`.

Redirects: only 307 and 308 are followed (at most MAX_REDIRECTS, each hop checked by the guard
when it connects); the others turn a POST into a GET without the signed body, so they fail the
call rather than deliver nothing and call it a success.
"""

import asyncio
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from jinja2 import TemplateError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from outreach.kit.targets import TargetGuard, TargetRefused, guarded_http_client
from outreach.templates.rendering import Personalization, Renderer, render
from outreach.templates.sandbox import budget
from outreach.workflows.graph.schemas import WebhookAction

TIMEOUT_SECONDS = 10.0  # the whole call: connections, redirects, the answer
MAX_REDIRECTS = 3
FOLLOWED_REDIRECTS = frozenset({307, 308})  # the method and the signed body are kept
KEPT_BYTES = 2048  # of the answer's body, for the event log
MAX_DEPTH = 8  # of nested objects and lists in the payload
MAX_VALUES = 500  # strings, numbers, objects and lists in the payload
MAX_BODY_BYTES = 256 * 1024
MAX_ERROR_CHARS = 300
RETRYABLE_STATUSES = frozenset({408, 429})  # and every 5xx
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
USER_AGENT = "outreach-webhooks/1"


class PayloadError(ValueError):
    """The payload is over the bounds: too deep, too many values, too large."""


@dataclass(frozen=True)
class WebhookResult:
    """What one attempt gave: `ok` (a 2xx), else the HTTP `status_code` (None when there was no
    answer), a short `error`, and whether a retry makes sense (5xx, 408, 429, a timeout, a
    connection failure: yes; another 4xx, a refused target, a bad payload: no)."""

    webhook_id: str
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = False
    response: str = ""  # the start of the answer's body
    retry_after: timedelta | None = None  # what a 429 or 503 asked for

    @property
    def event_type(self) -> Literal["webhook_succeeded", "webhook_failed"]:
        return "webhook_succeeded" if self.ok else "webhook_failed"

    def event_data(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "status_code": self.status_code,
            "error": self.error,
            "retryable": self.retryable,
            "response": self.response,
        }


def signature_headers(signer: Webhook, webhook_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for `body` sent at `at`."""
    timestamp = at.astimezone(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signer.sign(webhook_id, timestamp, body),
    }


def webhook_client(guard: TargetGuard) -> httpx.AsyncClient:
    """The client to call webhooks with (one per batch, closed by the caller): it connects only
    where the guard allows, and follows no redirect by itself."""
    return guarded_http_client(guard, timeout=TIMEOUT_SECONDS, follow_redirects=False)


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
    url = _url(action.url)
    if isinstance(url, str):
        return WebhookResult(webhook_id, ok=False, error=url)
    try:
        signer = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # base64's binascii.Error is a ValueError
        error = "the signing secret is not a Standard Webhooks secret (whsec_ and base64)"
        return WebhookResult(webhook_id, ok=False, error=error)
    try:
        payload = await renderer.run(
            lambda: render_payload(action.payload, personalization, seconds=renderer.seconds)
        )
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TemplateError, ValueError) as exc:  # PayloadError, and NaN that JSON cannot carry
        return WebhookResult(webhook_id, ok=False, error=_short(f"the payload: {exc}"))
    content = body.encode()
    if len(content) > MAX_BODY_BYTES:
        error = f"the payload is over {MAX_BODY_BYTES // 1024} KB once filled in"
        return WebhookResult(webhook_id, ok=False, error=error)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",  # the answer is kept as it comes: no decompression
        **signature_headers(signer, webhook_id, datetime.now(UTC), body),
    }
    request = http.build_request(action.method, url, content=content, headers=headers)
    return await _deliver(http, request, webhook_id, time_limit)


def _url(given: str) -> httpx.URL | str:
    """The URL to call, or why it cannot be called."""
    try:
        url = httpx.URL(given)
    except httpx.InvalidURL as exc:
        return _short(f"the URL is not valid: {exc}")
    if url.scheme not in ("http", "https") or not url.host:
        return "the URL must be an http or https URL with a host"
    return url


async def _deliver(
    http: httpx.AsyncClient, request: httpx.Request, webhook_id: str, time_limit: float
) -> WebhookResult:
    try:
        async with asyncio.timeout(time_limit):
            hops = 0
            while True:
                response = await http.send(request, stream=True, follow_redirects=False)
                try:
                    following = response.next_request
                    if (
                        response.status_code in FOLLOWED_REDIRECTS
                        and following is not None
                        and following.url.scheme in ("http", "https")
                        and hops < MAX_REDIRECTS
                    ):
                        hops, request = hops + 1, following
                        continue
                    kept = await _start_of(response)
                finally:
                    await response.aclose()
                return _answered(webhook_id, response, kept, redirected=hops)
    except (TimeoutError, httpx.TimeoutException):
        return WebhookResult(
            webhook_id, ok=False, error=f"no answer within {time_limit:g} s", retryable=True
        )
    except httpx.TransportError as exc:
        refused = isinstance(exc.__cause__, TargetRefused)
        return WebhookResult(
            webhook_id,
            ok=False,
            error=_short(str(exc) or type(exc).__name__),
            retryable=not refused,
        )


async def _start_of(response: httpx.Response) -> bytes:
    """The first KEPT_BYTES of the body; the rest is never read (the connection is dropped)."""
    kept = b""
    async for chunk in response.aiter_raw():
        kept += chunk[: KEPT_BYTES - len(kept)]
        if len(kept) >= KEPT_BYTES:
            break
    return kept


def _answered(
    webhook_id: str, response: httpx.Response, kept: bytes, *, redirected: int
) -> WebhookResult:
    status = response.status_code
    text = kept.decode("utf-8", "replace")
    if response.is_success:
        return WebhookResult(webhook_id, ok=True, status_code=status, response=text)
    if response.is_redirect:
        error = (
            f"more than {MAX_REDIRECTS} redirects"
            if redirected == MAX_REDIRECTS
            else f"HTTP {status}: only 307 and 308 redirects to http(s) are followed"
        )
        return WebhookResult(webhook_id, ok=False, status_code=status, error=error, response=text)
    return WebhookResult(
        webhook_id,
        ok=False,
        status_code=status,
        error=_short(f"HTTP {status} {response.reason_phrase}".strip()),
        retryable=status >= 500 or status in RETRYABLE_STATUSES,
        response=text,
        retry_after=_retry_after(response.headers.get("retry-after")),
    )


def _retry_after(value: str | None) -> timedelta | None:
    """Retry-After in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(timedelta(0), when - datetime.now(UTC))


def _short(text: str) -> str:
    return " ".join(text.split())[:MAX_ERROR_CHARS]


def retry_delay(
    attempt: int,
    retry_after: timedelta | None = None,
    *,
    draw: Callable[[], float] = random.random,
) -> timedelta:
    """How long to wait before retry number `attempt` (1: the first retry): RETRY_BASE doubled
    at each attempt up to RETRY_CAP, of which a random half to all (contacts that failed
    together do not come back together); never less than the server's Retry-After, up to the
    cap."""
    doublings = min(max(attempt, 1) - 1, 16)  # 30 s * 2**16 is far past the cap already
    ceiling = min(RETRY_CAP, RETRY_BASE * (1 << doublings))
    delay = ceiling * (0.5 + draw() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_CAP))
    return delay
