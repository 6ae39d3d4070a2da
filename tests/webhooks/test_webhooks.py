"""Outbound webhooks over HTTP against the app, delivered to a real HTTP server on loopback that
checks every signature with the `standardwebhooks` library: the facts that enqueue deliveries,
retries, a crash between claim and delivery, disabling, redelivery, ping, the outbound guard,
roles and tenancy."""

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.targets import TargetGuard
from outreach.kit.tenancy import set_org
from outreach.sending.secrets import sender_secrets
from outreach.webhooks.jobs import Dispatcher
from outreach.webhooks.repository import claim_due
from outreach.webhooks.service import MAX_SUBSCRIPTIONS
from tests.factories import (
    Org,
    act,
    add_sender,
    create_campaign,
    in_org,
    insert_row,
    ok,
    patch,
    post,
    post_contacts,
    run_job,
    start_campaign,
)
from tests.workflows.actions.hook_server import SLOW_SECONDS, HookServer, hook_server

WEBHOOKS = "/api/v1/webhooks"


@pytest.fixture(scope="module")
def hooks() -> Iterator[HookServer]:
    with hook_server("whsec_" + "A" * 44) as server:
        yield server


@pytest.fixture
def receiver(hooks: HookServer) -> HookServer:
    hooks.received.clear()
    return hooks


def subscribe(
    client: TestClient,
    org: Org,
    receiver: HookServer,
    path: str = "/ok",
    event_types: tuple[str, ...] = ("contact.replied",),
) -> dict[str, Any]:
    """A subscription of the organization to the receiver's `path`; the receiver then checks
    signatures with its secret."""
    body = {"url": receiver.url + path, "event_types": list(event_types)}
    created = dict(ok(post(client, org, WEBHOOKS, body), 201))
    receiver.secret = created["secret"]
    return created


def dispatcher(
    sessionmaker: Any, settings: Settings, **options: Any
) -> Dispatcher:  # the sessionmaker of run_job
    no_wait: dict[str, Any] = {"delay": lambda _attempt, _after: timedelta(0)}
    return Dispatcher(
        sessionmaker,
        sender_secrets(tuple(settings.sender_secret_keys)),
        TargetGuard(allow_private=True),
        time_limit=5.0,
        **(no_wait | options),
    )


def deliver(urls: DatabaseUrls, settings: Settings, org: Org, **options: Any) -> int:
    """One pass of the delivery job over the organization (the tests share one database),
    waiting for its deliveries: how many were attempted."""

    async def one_pass(sessionmaker: Any) -> int:
        worker = dispatcher(sessionmaker, settings, **options)
        claimed = await worker.claim_org(org.id, 100)
        await worker.deliver_all(claimed)
        return len(claimed)

    return run_job(urls, one_pass)


OnePass = Callable[..., int]


@pytest.fixture
def one_pass(database_urls: DatabaseUrls, settings: Settings, org: Org) -> OnePass:
    """`deliver` over the test's organization: one_pass(**options) -> attempts."""
    return partial(deliver, database_urls, settings, org)


def replied(client: TestClient, org: Org, email: str = "ada@example.com") -> tuple[str, str]:
    """A campaign with one contact, who then replies (a manual event): campaign and member."""
    campaign = create_campaign(client, org)
    answer = post_contacts(client, org, campaign["id"], [{"email": email, "first_name": "Ada"}])
    member = answer.json()["results"][0]["campaign_contact_id"]
    event = {"event_type": "response_received", "channel": "phone", "response_text": "Yes!"}
    path = f"/api/v1/campaigns/{campaign['id']}/contacts/{member}/events"
    ok(post(client, org, path, event), 201)
    return campaign["id"], member


def deliveries(client: TestClient, org: Org, webhook_id: str, **params: Any) -> list[Any]:
    answer = client.get(f"{WEBHOOKS}/{webhook_id}/deliveries", params=params, headers=org.headers())
    return list(ok(answer)["items"])


# -- subscriptions -------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_kept_encrypted(
    client: TestClient, org: Org, receiver: HookServer, as_owner: psycopg.Connection
) -> None:
    created = subscribe(client, org, receiver)
    assert created["secret"].startswith("whsec_")
    assert (created["enabled"], created["disabled_reason"]) == (True, None)
    read = ok(client.get(f"{WEBHOOKS}/{created['id']}", headers=org.headers()))
    assert "secret" not in read
    assert "secret" not in ok(client.get(WEBHOOKS, headers=org.headers()))["items"][0]
    row = as_owner.execute(
        "SELECT secret_encrypted FROM webhook_subscriptions WHERE id = %s", (created["id"],)
    ).fetchone()
    assert row is not None
    assert created["secret"] not in row[0]
    assert created["secret"][len("whsec_") :] not in row[0]


def test_a_reply_is_delivered_signed_and_logged(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver)
    campaign_id, member = replied(client, org)
    [pending] = deliveries(client, org, hook["id"])
    assert (pending["status"], pending["event_type"], pending["attempts"]) == (
        "pending",
        "contact.replied",
        0,
    )

    assert one_pass() == 1

    [request] = receiver.received
    assert request.verified is not None, "the signature did not verify"
    assert request.verified["type"] == "contact.replied"
    data = request.verified["data"]
    assert (data["campaign_id"], data["campaign_contact_id"]) == (campaign_id, member)
    assert (data["email"], data["channel"]) == ("ada@example.com", "phone")
    assert request.headers["webhook-id"] == pending["webhook_id"]
    [done] = deliveries(client, org, hook["id"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 1, 200)
    assert done["last_response"] == '{"received": true}'
    assert done["last_duration_ms"] is not None
    assert done["next_attempt_at"] is None
    read = ok(client.get(f"{WEBHOOKS}/{hook['id']}", headers=org.headers()))
    assert read["last_success_at"] is not None


def test_events_a_subscription_did_not_ask_for_are_not_queued(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(client, org, receiver, event_types=("contact.bounced",))
    replied(client, org)
    assert deliveries(client, org, hook["id"]) == []


def test_campaign_activation_and_completion_are_queued(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(
        client, org, receiver, event_types=("campaign.activated", "campaign.completed")
    )
    campaign = start_campaign(client, org, [{"email": "ada@example.com"}])
    assert act(client, org, campaign.id, "complete").status_code == 200
    queued = deliveries(client, org, hook["id"])
    assert [d["event_type"] for d in reversed(queued)] == [
        "campaign.activated",
        "campaign.completed",
    ]
    completed = queued[0]["payload"]
    assert completed["data"]["campaign_id"] == campaign.id
    assert (completed["data"]["status"], completed["data"]["previous_status"]) == (
        "completed",
        "active",
    )


def test_a_paused_sender_and_a_completed_enrollment_are_queued(
    client: TestClient, org: Org, receiver: HookServer, as_owner: psycopg.Connection
) -> None:
    hook = subscribe(client, org, receiver, event_types=("sender.paused", "enrollment.completed"))
    sender = add_sender(client, org)
    campaign_id, member = replied(client, org)
    enrollment = uuid.uuid4()
    with as_owner.transaction():
        set_org(as_owner, org.id)  # the breaker and the engine write as the organization
        as_owner.execute(
            "UPDATE senders SET paused_at = now(), paused_reason = 'bounce rate 9%%' WHERE id = %s",
            (sender["id"],),
        )
        insert_row(
            as_owner,
            "engagement_events",
            org,
            campaign_id=campaign_id,
            campaign_contact_id=member,
            event_type="enrollment_completed",
            event_timestamp="2026-11-29T10:00:00Z",
            enrollment_id=enrollment,
            node_id="done",
        )
    by_type = {d["event_type"]: d["payload"]["data"] for d in deliveries(client, org, hook["id"])}
    assert by_type["sender.paused"]["sender_id"] == sender["id"]
    assert by_type["sender.paused"]["reason"] == "bounce rate 9%"
    assert by_type["enrollment.completed"]["enrollment_id"] == str(enrollment)
    assert by_type["enrollment.completed"]["email"] == "ada@example.com"


def test_a_person_s_click_is_queued_and_a_scanner_s_is_not(
    client: TestClient, org: Org, receiver: HookServer, as_owner: psycopg.Connection
) -> None:
    hook = subscribe(client, org, receiver, event_types=("contact.clicked",))
    campaign = create_campaign(client, org)
    answer = post_contacts(client, org, campaign["id"], [{"email": "ada@example.com"}])
    member = answer.json()["results"][0]["campaign_contact_id"]
    with as_owner.transaction():
        set_org(as_owner, org.id)
        for url, machine in (
            ("https://example.com/person", False),
            ("https://example.com/bot", True),
        ):
            insert_row(
                as_owner,
                "engagement_events",
                org,
                campaign_id=campaign["id"],
                campaign_contact_id=member,
                event_type="clicked",
                event_timestamp="2026-11-29T10:00:00Z",
                clicked_url=url,
                is_machine=machine,
            )
    [queued] = deliveries(client, org, hook["id"])
    assert queued["payload"]["data"]["url"] == "https://example.com/person"


# -- retries, crashes, disabling -----------------------------------------------------------


def attempts_counted(client: TestClient) -> dict[str, float]:
    """outreach_webhook_deliveries_total by outcome, as GET /metrics shows it."""
    return {
        sample.labels["outcome"]: sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "outreach_webhook_deliveries_total"
    }


def test_a_500_is_retried_then_delivered(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver, path=f"/flaky/1/{uuid.uuid4()}")
    replied(client, org)
    before = attempts_counted(client)

    assert one_pass() == 1
    [retrying] = deliveries(client, org, hook["id"])
    assert (retrying["status"], retrying["attempts"], retrying["last_status_code"]) == (
        "pending",
        1,
        500,
    )
    assert retrying["last_response"] == "not yet"

    assert one_pass() == 1
    [done] = deliveries(client, org, hook["id"])
    assert (done["status"], done["attempts"], done["last_status_code"]) == ("delivered", 2, 200)
    assert [r.verified is not None for r in receiver.received] == [True, True]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    after = attempts_counted(client)
    for outcome in ("retried", "delivered"):
        assert after[outcome] == before.get(outcome, 0) + 1


def test_a_retry_waits_for_its_backoff(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver, path="/status/503")
    replied(client, org)
    later = {"delay": lambda _attempt, _after: timedelta(hours=1)}
    assert one_pass(**later) == 1
    assert one_pass(**later) == 0
    [waiting] = deliveries(client, org, hook["id"])
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
    assert len(receiver.received) == 1


def test_a_crash_between_claim_and_delivery_delivers_when_the_lease_ends(
    client: TestClient,
    org: Org,
    receiver: HookServer,
    database_urls: DatabaseUrls,
    settings: Settings,
    one_pass: OnePass,
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)

    async def claim_and_die(sessionmaker: Any) -> int:
        claimed = await dispatcher(sessionmaker, settings, lease_seconds=1.0).claim_org(org.id, 10)
        return len(claimed)  # and never sends them: the process died here

    assert run_job(database_urls, claim_and_die) == 1
    assert one_pass() == 0  # still leased to the dead worker
    assert receiver.received == []
    time.sleep(1.2)
    assert one_pass() == 1
    [request] = receiver.received
    assert request.verified is not None
    [done] = deliveries(client, org, hook["id"])
    assert (done["status"], done["attempts"]) == ("delivered", 2)


def test_a_late_worker_does_not_record_over_a_newer_claim(
    client: TestClient,
    org: Org,
    receiver: HookServer,
    database_urls: DatabaseUrls,
    settings: Settings,
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)

    async def two_workers(sessionmaker: Any) -> None:
        first = dispatcher(sessionmaker, settings, lease_seconds=0.5)
        [stale] = await first.claim_org(org.id, 10)
        await asyncio.sleep(0.7)
        second = dispatcher(sessionmaker, settings)
        [fresh] = await second.claim_org(org.id, 10)
        await first.deliver(stale)  # its lease ended: its outcome is not recorded
        [row] = deliveries(client, org, hook["id"])
        assert (row["status"], row["attempts"]) == ("pending", 2)
        await second.deliver(fresh)

    run_job(database_urls, two_workers)
    [done] = deliveries(client, org, hook["id"])
    assert (done["status"], done["attempts"]) == ("delivered", 2)


def test_persistent_failure_disables_the_subscription_with_a_reason(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver, path="/status/500")
    replied(client, org)
    replied(client, org, "grace@example.com")

    assert one_pass(retry_for=timedelta(0)) == 2

    read = ok(client.get(f"{WEBHOOKS}/{hook['id']}", headers=org.headers()))
    assert read["enabled"] is False
    assert "No delivery got through" in read["disabled_reason"]
    assert "HTTP 500" in read["disabled_reason"]
    assert {d["status"] for d in deliveries(client, org, hook["id"])} == {"failed"}
    replied(client, org, "alan@example.com")  # a disabled subscription gets nothing new
    assert len(deliveries(client, org, hook["id"])) == 2
    ping = post(client, org, f"{WEBHOOKS}/{hook['id']}/ping", {})
    assert (ping.status_code, ping.json()["code"]) == (409, "WEBHOOK_DISABLED")

    enabled = ok(patch(client, org, f"{WEBHOOKS}/{hook['id']}", {"enabled": True}))
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["disabled_at"]) == (
        True,
        None,
        None,
    )


def test_a_failed_delivery_does_not_disable_a_subscription_that_delivered_since(
    client: TestClient,
    org: Org,
    receiver: HookServer,
    as_owner: psycopg.Connection,
    one_pass: OnePass,
) -> None:
    hook = subscribe(client, org, receiver, path="/status/500")
    path = f"{WEBHOOKS}/{hook['id']}"
    replied(client, org)
    later = {"delay": lambda _attempt, _after: timedelta(hours=1)}
    assert one_pass(**later) == 1  # failed, retried in an hour
    ok(patch(client, org, path, {"url": receiver.url + "/ok"}))
    replied(client, org, "grace@example.com")
    assert one_pass() == 1  # this one got through
    ok(patch(client, org, path, {"url": receiver.url + "/status/500"}))
    as_owner.execute(  # the hour has passed, and the first one's day with it
        "UPDATE webhook_deliveries SET next_attempt_at = now() "
        "WHERE subscription_id = %s AND status = 'pending'",
        (hook["id"],),
    )
    assert one_pass(retry_for=timedelta(0)) == 1
    read = ok(client.get(path, headers=org.headers()))
    assert read["enabled"] is True
    statuses = sorted(d["status"] for d in deliveries(client, org, hook["id"]))
    assert statuses == ["delivered", "failed"]


def test_410_gone_disables_at_once(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver, path="/status/410")
    replied(client, org)
    assert one_pass() == 1
    read = ok(client.get(f"{WEBHOOKS}/{hook['id']}", headers=org.headers()))
    assert (read["enabled"], read["disabled_reason"]) == (False, "The endpoint answered 410 Gone.")


def test_one_organization_s_slow_endpoint_leaves_room_for_the_others(
    client: TestClient,
    org: Org,
    other_org: Org,
    receiver: HookServer,
    database_urls: DatabaseUrls,
    settings: Settings,
) -> None:
    slow = subscribe(client, org, receiver, path="/slow")
    for n in range(3):
        replied(client, org, f"person{n}@example.com")

    async def one_pass(sessionmaker: Any, quick_id: str) -> float:
        # Other tests' organizations may have deliveries due too: they take their own share.
        worker = dispatcher(sessionmaker, settings, per_org=1, connections=100)
        started = time.monotonic()
        report = await worker.start_due()
        assert report.done >= 2  # one of the slow organization's, one of the other's
        while not deliveries(client, other_org, quick_id, status="delivered"):
            assert time.monotonic() - started < 10
            await asyncio.sleep(0.05)
        took = time.monotonic() - started
        await asyncio.gather(*worker.running)
        return took

    with hook_server("whsec_" + "B" * 44) as other_receiver:
        quick = subscribe(client, other_org, other_receiver)
        replied(client, other_org)
        took = run_job(database_urls, lambda sm: one_pass(sm, quick["id"]))
    assert took < SLOW_SECONDS, f"the other organization waited {took:.1f} s for the slow one"
    states = sorted(d["status"] for d in deliveries(client, org, slow["id"]))
    assert states == ["delivered", "pending", "pending"]


# -- redelivery and ping -------------------------------------------------------------------


def test_a_redelivery_sends_the_same_message_again(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)
    one_pass()
    [first] = deliveries(client, org, hook["id"])

    path = f"{WEBHOOKS}/{hook['id']}/deliveries/{first['id']}/redeliver"
    again = ok(post(client, org, path, {}), 202)
    assert (again["status"], again["redelivery_of"]) == ("pending", first["id"])
    assert again["webhook_id"] == first["webhook_id"]
    assert one_pass() == 1

    first_body, second_body = (r.verified for r in receiver.received)
    assert first_body is not None
    assert first_body == second_body
    assert {r.headers["webhook-id"] for r in receiver.received} == {first["webhook_id"]}
    assert {d["status"] for d in deliveries(client, org, hook["id"])} == {"delivered"}


def test_a_pending_delivery_is_not_redelivered(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)
    [pending] = deliveries(client, org, hook["id"])
    path = f"{WEBHOOKS}/{hook['id']}/deliveries/{pending['id']}/redeliver"
    answer = post(client, org, path, {})
    assert (answer.status_code, answer.json()["code"]) == (409, "WEBHOOK_DELIVERY_PENDING")


def test_a_ping_is_delivered_whatever_the_event_types(
    client: TestClient, org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver, event_types=("sender.paused",))
    queued = ok(post(client, org, f"{WEBHOOKS}/{hook['id']}/ping", {}), 202)
    assert (queued["event_type"], queued["status"]) == ("webhook.ping", "pending")
    assert one_pass() == 1
    [request] = receiver.received
    assert request.verified is not None
    assert request.verified["type"] == "webhook.ping"
    assert request.verified["data"]["webhook"] == hook["id"]


# -- input, the outbound guard, roles, tenancy ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/hook",
    ],
)
def test_a_link_local_or_metadata_url_is_refused(client: TestClient, org: Org, url: str) -> None:
    body = {"url": url, "event_types": ["contact.replied"]}
    answer = post(client, org, WEBHOOKS, body)
    assert (answer.status_code, answer.json()["code"]) == (422, "TARGET_NOT_ALLOWED")


def test_a_link_local_url_is_refused_on_change_too(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(client, org, receiver)
    answer = patch(client, org, f"{WEBHOOKS}/{hook['id']}", {"url": "http://169.254.1.1/"})
    assert (answer.status_code, answer.json()["code"]) == (422, "TARGET_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"url": "ftp://example.com/hook", "event_types": ["contact.replied"]},
            "WEBHOOK_URL_INVALID",
        ),
        ({"url": "https:///nohost", "event_types": ["contact.replied"]}, "WEBHOOK_URL_INVALID"),
        (
            {"url": "https://example.com/" + "a" * 2048, "event_types": ["contact.replied"]},
            "VALUE_TOO_LONG",
        ),
        ({"url": "https://example.com/hook", "event_types": []}, "WEBHOOK_EVENT_TYPES_REQUIRED"),
        (
            {"url": "https://example.com/hook", "event_types": ["sender.paused"] * 11},
            "TOO_MANY_ITEMS",
        ),
        (
            {"url": "https://example.com/hook", "event_types": ["contact.opened"]},
            "VALUE_NOT_ALLOWED",
        ),
        ({"url": "https://example.com/hook"}, "FIELD_REQUIRED"),
        (
            {"url": "https://example.com/hook", "event_types": ["contact.replied"], "secret": "x"},
            "FIELD_UNKNOWN",
        ),
        (
            {
                "url": "https://example.com/hook",
                "event_types": ["contact.replied"],
                "description": "d" * 501,
            },
            "VALUE_TOO_LONG",
        ),
    ],
)
def test_bad_subscriptions_are_refused_with_their_code(
    client: TestClient, org: Org, body: dict[str, Any], code: str
) -> None:
    answer = post(client, org, WEBHOOKS, body)
    assert (answer.status_code, answer.json()["code"]) == (422, code), answer.text


def test_null_is_refused_for_a_required_field_of_a_change(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(client, org, receiver)
    answer = patch(client, org, f"{WEBHOOKS}/{hook['id']}", {"event_types": None})
    assert (answer.status_code, answer.json()["code"]) == (422, "FIELD_REQUIRED")


def test_an_organization_has_a_bounded_number_of_subscriptions(
    client: TestClient, org: Org
) -> None:
    body = {"url": "https://example.com/hook", "event_types": ["contact.replied"]}
    for _ in range(MAX_SUBSCRIPTIONS):
        ok(post(client, org, WEBHOOKS, body), 201)
    answer = post(client, org, WEBHOOKS, body)
    assert (answer.status_code, answer.json()["code"]) == (409, "WEBHOOK_LIMIT_REACHED")


def test_a_change_and_a_disable_through_the_api(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)
    changed = ok(
        patch(
            client,
            org,
            f"{WEBHOOKS}/{hook['id']}",
            {"event_types": ["contact.bounced", "contact.bounced"], "enabled": False},
        )
    )
    assert changed["event_types"] == ["contact.bounced"]
    assert (changed["enabled"], changed["disabled_reason"]) == (False, "Disabled through the API")
    [pending] = deliveries(client, org, hook["id"])
    assert pending["status"] == "failed"


def test_deleting_a_subscription_deletes_its_log(
    client: TestClient, org: Org, receiver: HookServer
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)
    answer = client.delete(f"{WEBHOOKS}/{hook['id']}", headers=org.headers())
    assert answer.status_code == 204
    gone = client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=org.headers())
    assert gone.status_code == 404


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_admins_and_ta_managers_manage_webhooks(
    client: TestClient, org: Org, receiver: HookServer, role: Role
) -> None:
    hook = subscribe(client, org, receiver)
    body = {"url": "https://example.com/hook", "event_types": ["contact.replied"]}
    headers = org.headers(role)
    attempts = [
        client.post(WEBHOOKS, json=body, headers=headers),
        client.get(WEBHOOKS, headers=headers),
        client.get(f"{WEBHOOKS}/{hook['id']}", headers=headers),
        client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=headers),
        client.post(f"{WEBHOOKS}/{hook['id']}/ping", headers=headers),
        client.delete(f"{WEBHOOKS}/{hook['id']}", headers=headers),
    ]
    assert [a.status_code for a in attempts] == [403] * len(attempts)
    manager = client.get(f"{WEBHOOKS}/{hook['id']}", headers=org.headers(Role.TA_MANAGER))
    assert manager.status_code == 200


def test_another_organization_can_neither_see_nor_redeliver(
    client: TestClient, org: Org, other_org: Org, receiver: HookServer, one_pass: OnePass
) -> None:
    hook = subscribe(client, org, receiver)
    replied(client, org)
    one_pass()
    [delivery] = deliveries(client, org, hook["id"])
    base = f"{WEBHOOKS}/{hook['id']}"
    headers = other_org.headers()
    attempts = [
        client.get(base, headers=headers),
        client.patch(base, json={"enabled": False}, headers=headers),
        client.get(f"{base}/deliveries", headers=headers),
        client.post(f"{base}/deliveries/{delivery['id']}/redeliver", headers=headers),
        client.post(f"{base}/ping", headers=headers),
        client.delete(base, headers=headers),
    ]
    assert [a.status_code for a in attempts] == [404] * len(attempts)
    assert ok(client.get(WEBHOOKS, headers=headers))["items"] == []
    assert len(deliveries(client, org, hook["id"])) == 1


@pytest.mark.parametrize("join", ["nested loop", "hash join"])
def test_a_claim_takes_no_more_than_its_limit_whatever_the_plan(
    client: TestClient,
    org: Org,
    receiver: HookServer,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    join: str,
) -> None:
    """The claim's locking subquery is evaluated once. A plan that ran it again for each row
    of the deliveries it read (a nested loop, newest first) skipped the row the statement had
    just claimed and found the next due one, past the limit: an organization's share."""
    subscribe(client, org, receiver, path="/slow")
    for n in range(3):
        replied(client, org, f"person{n}@example.com")
    # the newest first due, as a newest-first scan of the deliveries meets them
    as_owner.execute(
        "UPDATE webhook_deliveries d SET next_attempt_at = now() - make_interval(mins => o.n::int) "
        "FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS n "
        "FROM webhook_deliveries WHERE org_id = %s) o WHERE d.id = o.id",
        (org.id,),
    )

    async def claim_one(session: AsyncSession) -> int:
        off = ["enable_hashjoin", "enable_material"] if join == "nested loop" else []
        for setting in [*off, "enable_mergejoin"]:
            await session.execute(text(f"SET LOCAL {setting} = off"))
        return len(await claim_due(session, org.id, 1, 60))

    assert in_org(database_urls, org, claim_one) == 1
