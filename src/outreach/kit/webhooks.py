"""Calling a tenant's URL with a signed JSON body, the Standard Webhooks way: only where the
outbound guard allows, within a time limit, its answer read no further than a few KB. Shared by
the sequences' webhook action and the organization's webhook subscriptions.

Signed with the `standardwebhooks` package, so a receiver checks us with the same library:
headers `webhook-id` (the same on every attempt of one delivery, so the receiver can drop a
repeat), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`.

Redirects: only 307 and 308 are followed (at most MAX_REDIRECTS, each hop checked by the guard
when it connects); the others turn a POST into a GET without the signed body, so they fail the
call rather than deliver nothing and call it a success.
"""

import asyncio
import base64
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from outreach.kit.targets import TargetGuard, TargetRefused, guarded_http_client

TIMEOUT_SECONDS = 10.0  # the whole call: connections, redirects, the answer
MAX_REDIRECTS = 3
FOLLOWED_REDIRECTS = frozenset({307, 308})  # the method and the signed body are kept
KEPT_BYTES = 2048  # of the answer's body, for the logs
MAX_ERROR_CHARS = 300
RETRYABLE_STATUSES = frozenset({408, 429})  # and every 5xx
USER_AGENT = "outreach-webhooks/1"
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks form, not a secret
NOT_A_SECRET = "the signing secret is not a Standard Webhooks secret (whsec_ and base64)"  # noqa: S105 - a message


def new_signing_secret() -> str:
    """A secret in the Standard Webhooks form (`whsec_` and 32 random bytes in base64)."""
    return SIGNING_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


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
    duration_ms: int | None = None  # from the first connection to the answer (None: not sent)

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


def http_url(given: str) -> httpx.URL | str:
    """The URL to call, or why it cannot be called."""
    try:
        url = httpx.URL(given)
    except httpx.InvalidURL as exc:
        return short(f"the URL is not valid: {exc}")
    if url.scheme not in ("http", "https") or not url.host:
        return "the URL must be an http or https URL with a host"
    return url


async def send_signed(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    body: str,
    *,
    webhook_id: str,
    secret: str,
    time_limit: float = TIMEOUT_SECONDS,
) -> WebhookResult:
    """One attempt: `body` (JSON text) signed with `secret` and sent to `url` through `http`
    (a `webhook_client`). Never raises for what the URL, the secret or the server do."""
    target = http_url(url)
    if isinstance(target, str):
        return WebhookResult(webhook_id, ok=False, error=target)
    try:
        signer = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):  # base64's binascii.Error is a ValueError
        return WebhookResult(webhook_id, ok=False, error=NOT_A_SECRET)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",  # the answer is kept as it comes: no decompression
        **signature_headers(signer, webhook_id, datetime.now(UTC), body),
    }
    request = http.build_request(method, target, content=body.encode(), headers=headers)
    return await _deliver(http, request, webhook_id, time_limit)


async def _deliver(
    http: httpx.AsyncClient, request: httpx.Request, webhook_id: str, time_limit: float
) -> WebhookResult:
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

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
                return _answered(webhook_id, response, kept, redirected=hops, took=elapsed())
    except (TimeoutError, httpx.TimeoutException):
        return WebhookResult(
            webhook_id,
            ok=False,
            error=f"no answer within {time_limit:g} s",
            retryable=True,
            duration_ms=elapsed(),
        )
    except httpx.TransportError as exc:
        refused = isinstance(exc.__cause__, TargetRefused)
        return WebhookResult(
            webhook_id,
            ok=False,
            error=short(str(exc) or type(exc).__name__),
            retryable=not refused,
            duration_ms=elapsed(),
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
    webhook_id: str, response: httpx.Response, kept: bytes, *, redirected: int, took: int
) -> WebhookResult:
    status = response.status_code
    text = kept.decode("utf-8", "replace")
    if response.is_success:
        return WebhookResult(
            webhook_id, ok=True, status_code=status, response=text, duration_ms=took
        )
    if response.is_redirect:
        error = (
            f"more than {MAX_REDIRECTS} redirects"
            if redirected == MAX_REDIRECTS
            else f"HTTP {status}: only 307 and 308 redirects to http(s) are followed"
        )
        return WebhookResult(
            webhook_id, ok=False, status_code=status, error=error, response=text, duration_ms=took
        )
    return WebhookResult(
        webhook_id,
        ok=False,
        status_code=status,
        error=short(f"HTTP {status} {response.reason_phrase}".strip()),
        retryable=status >= 500 or status in RETRYABLE_STATUSES,
        response=text,
        retry_after=_retry_after(response.headers.get("retry-after")),
        duration_ms=took,
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


def short(text: str) -> str:
    return " ".join(text.split())[:MAX_ERROR_CHARS]


def backoff(
    attempt: int,
    retry_after: timedelta | None = None,
    *,
    base: timedelta,
    cap: timedelta,
    draw: Callable[[], float] = random.random,
) -> timedelta:
    """How long to wait before retry number `attempt` (1: the first retry): `base` doubled at
    each attempt up to `cap`, of which a random half to all (calls that failed together do not
    come back together); never less than the server's Retry-After, up to the cap."""
    doublings = min(max(attempt, 1) - 1, 30)
    ceiling = min(cap, base * (1 << doublings))
    delay = ceiling * (0.5 + draw() / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
