"""The webhook action against a real HTTP server on loopback: the payload filled in for the
contact and signed (checked by the receiver with the Standard Webhooks library), each failure
classed as worth a retry or not, and targets the guard refuses never reached."""

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

import pytest

from outreach.config import Settings
from outreach.kit.targets import TargetGuard
from outreach.kit.webhooks import (
    KEPT_BYTES,
    MAX_REDIRECTS,
    WebhookResult,
    new_signing_secret,
    webhook_client,
)
from outreach.models import Contact
from outreach.templates.rendering import Personalization, Renderer
from outreach.workflows.actions.webhooks import (
    MAX_DEPTH,
    MAX_VALUES,
    RETRY_CAP,
    WebhookAction,
    call_webhook,
    retry_delay,
)
from tests.factories import production_settings
from tests.sending.tcp_servers import speak_http, tcp_listener
from tests.workflows.actions.hook_server import HookServer, hook_server

SECRET = new_signing_secret()
LOOPBACK_ALLOWED = TargetGuard(allow_private=True)
ADA = Personalization.for_contact(
    Contact(
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        company_name="Analytical Engines",
        custom_fields={"team": "platform"},
    ),
    sender_name="Grace",
    campaign_name="Engineers 2026",
)


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookServer]:
    with hook_server(SECRET) as server:
        yield server


@pytest.fixture
def received(hooks: HookServer) -> HookServer:
    hooks.received.clear()
    return hooks


def call(
    url: str,
    payload: dict[str, Any] | None = None,
    *,
    guard: TargetGuard = LOOPBACK_ALLOWED,
    secret: str = SECRET,
    time_limit: float = 5.0,
    method: str = "POST",
) -> WebhookResult:
    action = WebhookAction(type="webhook", url=url, method=method, payload=payload or {"a": 1})

    async def once() -> WebhookResult:
        async with webhook_client(guard) as http:
            return await call_webhook(
                action,
                ADA,
                webhook_id="msg_enrollment1_hook",
                secret=secret,
                http=http,
                renderer=Renderer(2.0),
                time_limit=time_limit,
            )

    return asyncio.run(once())


# -- delivery ----------------------------------------------------------------------------


def test_the_payload_is_filled_in_for_the_contact_and_signed(received: HookServer) -> None:
    payload = {
        "email": "{{email}}",
        "name": "{{ full_name }}",
        "lead": {
            "company": "{{company_name}}",
            "team": "{{custom.team}}",
            "tags": ["{{first_name|upper}}", 3],
        },
        "score": 42,
        "active": True,
        "note": None,
    }
    result = call(f"{received.url}/ok", payload)
    assert result.ok, result.error
    assert (result.status_code, result.event_type) == (200, "webhook_succeeded")
    assert result.response == '{"received": true}'
    [request] = received.received
    assert request.verified == {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "lead": {"company": "Analytical Engines", "team": "platform", "tags": ["ADA", 3]},
        "score": 42,
        "active": True,
        "note": None,
    }
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == "msg_enrollment1_hook"
    assert request.headers["webhook-signature"].startswith("v1,")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_the_action_s_method_is_used(received: HookServer, method: str) -> None:
    assert call(f"{received.url}/ok", method=method).ok
    assert received.received[0].method == method


def test_a_receiver_with_another_secret_refuses_the_signature(received: HookServer) -> None:
    result = call(f"{received.url}/ok", secret=new_signing_secret())
    assert (result.ok, result.status_code, result.retryable) == (False, 401, False)
    assert received.received[0].verified is None


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_abcde"])
def test_a_secret_that_is_not_a_standard_webhooks_secret_sends_nothing(
    received: HookServer, secret: str
) -> None:
    result = call(f"{received.url}/ok", secret=secret)
    assert (result.ok, result.retryable) == (False, False)
    assert "signing secret" in (result.error or "")
    assert received.received == []


# -- answers and retries -----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_server_errors_timeouts_and_throttling_are_retryable(
    received: HookServer, status: int
) -> None:
    result = call(f"{received.url}/status/{status}")
    assert (result.ok, result.status_code, result.retryable) == (False, status, True)
    assert result.event_type == "webhook_failed"
    assert str(status) in (result.error or "")
    assert result.retry_after == timedelta(seconds=7)
    assert result.response == "nope"


def test_a_retry_after_date_is_read_as_the_time_until_it(received: HookServer) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(minutes=2), usegmt=True)
    result = call(f"{received.url}/status/503?retry_after={quote(when)}")
    assert result.retry_after is not None
    assert timedelta(seconds=100) < result.retry_after <= timedelta(minutes=2)


def test_an_unreadable_retry_after_is_ignored(received: HookServer) -> None:
    assert call(f"{received.url}/status/429?retry_after=soon").retry_after is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_client_errors_are_not_retryable(received: HookServer, status: int) -> None:
    result = call(f"{received.url}/status/{status}")
    assert (result.ok, result.status_code, result.retryable) == (False, status, False)


def test_a_slow_server_times_out_and_is_retryable(received: HookServer) -> None:
    started = time.monotonic()
    result = call(f"{received.url}/slow", time_limit=0.5)
    assert time.monotonic() - started < 1.5
    assert (result.ok, result.status_code, result.retryable) == (False, None, True)
    assert result.error == "no answer within 0.5 s"


def test_an_endless_answer_is_read_no_further_than_the_bound(received: HookServer) -> None:
    started = time.monotonic()
    result = call(f"{received.url}/endless", time_limit=5.0)
    assert result.ok
    assert time.monotonic() - started < 2.0
    assert result.response == "x" * KEPT_BYTES
    assert received.endless_sent < 32 * 1024 * 1024  # what socket buffers took, no more


def test_a_closed_port_is_a_retryable_connection_failure() -> None:
    with tcp_listener(speak_http) as listener:
        port = listener.port
    result = call(f"http://127.0.0.1:{port}/ok")
    assert (result.ok, result.status_code, result.retryable) == (False, None, True)


# -- redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
def test_a_307_or_308_is_followed_with_the_signed_body(received: HookServer, status: int) -> None:
    to = quote(f"{received.url}/ok", safe="")
    result = call(f"{received.url}/redirect/{status}?to={to}", {"email": "{{email}}"})
    assert (result.ok, result.status_code) == (True, 200)
    assert [r.path for r in received.received] == [f"/redirect/{status}?to={to}", "/ok"]
    assert received.received[1].verified == {"email": "ada@example.com"}


@pytest.mark.parametrize("status", [301, 302, 303])
def test_redirects_that_drop_the_body_are_not_followed(received: HookServer, status: int) -> None:
    to = quote(f"{received.url}/ok", safe="")
    result = call(f"{received.url}/redirect/{status}?to={to}")
    assert (result.ok, result.status_code, result.retryable) == (False, status, False)
    assert len(received.received) == 1


def test_redirects_are_followed_a_few_times_only(received: HookServer) -> None:
    url = f"{received.url}/ok"
    for _ in range(MAX_REDIRECTS + 1):
        url = f"{received.url}/redirect/307?to={quote(url, safe='')}"
    result = call(url)
    assert (result.ok, result.status_code, result.retryable) == (False, 307, False)
    assert result.error == f"more than {MAX_REDIRECTS} redirects"
    assert len(received.received) == MAX_REDIRECTS + 1


def test_a_redirect_to_a_refused_address_is_refused(received: HookServer) -> None:
    to = quote("http://169.254.169.254/latest/meta-data/", safe="")
    result = call(f"{received.url}/redirect/307?to={to}")
    assert (result.ok, result.status_code, result.retryable) == (False, None, False)
    assert "cloud metadata address" in (result.error or "")
    assert len(received.received) == 1


# -- targets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://169.254.1.1/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_link_local_and_metadata_targets_are_refused(url: str) -> None:
    result = call(url)
    assert (result.ok, result.status_code, result.retryable) == (False, None, False)
    assert "may not reach" in (result.error or "")


def test_a_name_that_resolves_to_a_metadata_address_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    result = call(
        "http://hooks.example.com/in", guard=TargetGuard(allow_private=True, resolve=resolve)
    )
    assert (result.ok, result.retryable) == (False, False)
    assert result.error == (
        "hooks.example.com resolves to a cloud metadata address, which outbound connections "
        "may not reach"
    )


def test_a_name_that_does_not_resolve_is_retryable() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        raise OSError(f"{host}: temporary failure in name resolution")

    result = call(
        "http://hooks.example.com/in", guard=TargetGuard(allow_private=True, resolve=resolve)
    )
    assert (result.ok, result.status_code, result.retryable) == (False, None, True)
    assert result.error == "hooks.example.com does not resolve"


def test_loopback_and_private_targets_are_refused_in_production_without_a_connection(
    settings: Settings,
) -> None:
    production = TargetGuard.for_settings(production_settings(settings))
    with tcp_listener(speak_http) as listener:
        loopback = call(f"http://127.0.0.1:{listener.port}/ok", guard=production)
        private = call("http://10.0.0.8/hook", guard=production)
        assert listener.connections == 0
    assert (loopback.ok, loopback.retryable) == (False, False)
    assert "loopback" in (loopback.error or "")
    assert (private.ok, private.retryable) == (False, False)
    assert "private" in (private.error or "")


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "gopher://example.com", "hooks"]
)
def test_only_http_and_https_urls_are_called(url: str) -> None:
    result = call(url)
    assert (result.ok, result.retryable) == (False, False)
    assert result.error == "the URL must be an http or https URL with a host"


# -- the payload -------------------------------------------------------------------------


def nested(levels: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"leaf": "{{email}}"}
    for _ in range(levels - 1):
        payload = {"inner": payload}
    return payload


def test_a_payload_nested_deeper_than_the_bound_is_refused_unsent(received: HookServer) -> None:
    assert call(f"{received.url}/ok", nested(MAX_DEPTH)).ok
    result = call(f"{received.url}/ok", nested(MAX_DEPTH + 1))
    assert (result.ok, result.retryable) == (False, False)
    assert result.error == f"the payload: the payload is nested more than {MAX_DEPTH} levels deep"
    assert len(received.received) == 1


def test_a_payload_with_too_many_values_is_refused_unsent(received: HookServer) -> None:
    result = call(f"{received.url}/ok", {"items": list(range(MAX_VALUES))})
    assert (result.ok, result.retryable) == (False, False)
    assert result.error == f"the payload: the payload has more than {MAX_VALUES} values"
    assert received.received == []


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("{{ campaign_id }}", "'campaign_id' is undefined"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{% for i in range(100000) %}x{% endfor %}", "range() is limited"),
        ("{{ first_name", "unexpected end of template"),
    ],
)
def test_a_payload_template_that_fails_is_refused_unsent(
    received: HookServer, value: str, error: str
) -> None:
    result = call(f"{received.url}/ok", {"ok": "{{email}}", "bad": value})
    assert (result.ok, result.retryable) == (False, False)
    assert error in (result.error or "")
    assert received.received == []


# -- retry delays ------------------------------------------------------------------------


def test_retry_delays_double_with_jitter_up_to_the_cap() -> None:
    longest = [retry_delay(attempt, draw=lambda: 1.0) for attempt in range(1, 9)]
    shortest = [retry_delay(attempt, draw=lambda: 0.0) for attempt in range(1, 9)]
    assert [d.total_seconds() for d in longest] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert [d.total_seconds() for d in shortest] == [15, 30, 60, 120, 240, 480, 960, 1800]
    assert retry_delay(1000) <= RETRY_CAP


def test_a_retry_waits_at_least_what_the_server_asked_up_to_the_cap() -> None:
    asked = timedelta(minutes=10)
    assert retry_delay(1, asked, draw=lambda: 1.0) == asked
    assert retry_delay(1, timedelta(days=2)) == RETRY_CAP
    assert retry_delay(1, timedelta(seconds=1), draw=lambda: 1.0) == timedelta(seconds=30)
