"""Senders' sending settings: warm-up and today's allowance, breaker thresholds, the breaker's
pause and resume, system senders, and senders still named by the outbox."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, add_contacts, add_sender, create_campaign, patch, post
from tests.sending.system_senders import add_system_sender

SENDERS = "/api/v1/senders"
BODY = {"from_email": "talent@example.com", "smtp_host": "smtp.example.com"}
TODAY = datetime.now(UTC).date()


def resume(client: TestClient, org: Org, sender_id: str, role: Role = Role.ADMIN) -> Any:
    return client.post(f"{SENDERS}/{sender_id}/resume", headers=org.headers(role))


def pause(as_owner: psycopg.Connection, sender_id: str, reason: str) -> None:
    as_owner.execute(
        "UPDATE senders SET paused_at = now(), paused_reason = %s WHERE id = %s",
        (reason, sender_id),
    )


# -- defaults and warm-up ------------------------------------------------------------------


def test_a_new_sender_is_smtp_without_warmup_and_with_the_default_thresholds(
    client: TestClient, org: Org
) -> None:
    sender = add_sender(client, org, daily_limit=400)
    assert sender["transport"] == "smtp"
    assert sender["warmup_start_per_day"] is None
    assert sender["warmup_increment_per_day"] == 0
    assert sender["warmup_started_on"] is None
    assert sender["effective_daily_limit"] == 400
    assert (sender["bounce_rate_threshold"], sender["complaint_rate_threshold"]) == (5.0, 0.3)
    assert (sender["paused_at"], sender["paused_reason"], sender["breaker_reset_at"]) == (
        None,
        None,
        None,
    )


def test_warmup_set_up_without_a_date_starts_today(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, warmup_start_per_day=20, warmup_increment_per_day=10)
    assert sender["warmup_started_on"] == TODAY.isoformat()
    assert sender["effective_daily_limit"] == 20


def test_effective_daily_limit_grows_by_the_increment_each_day(
    client: TestClient, org: Org
) -> None:
    started = TODAY - timedelta(days=3)
    sender = add_sender(
        client,
        org,
        warmup_start_per_day=20,
        warmup_increment_per_day=10,
        warmup_started_on=started.isoformat(),
    )
    assert sender["warmup_started_on"] == started.isoformat()
    assert sender["effective_daily_limit"] == 20 + 10 * 3


def test_effective_daily_limit_never_exceeds_the_daily_limit(client: TestClient, org: Org) -> None:
    started = TODAY - timedelta(days=100)
    sender = add_sender(
        client,
        org,
        daily_limit=300,
        warmup_start_per_day=20,
        warmup_increment_per_day=10,
        warmup_started_on=started.isoformat(),
    )
    assert sender["effective_daily_limit"] == 300


def test_a_warmup_planned_for_later_allows_its_first_day_figure(
    client: TestClient, org: Org
) -> None:
    later = (TODAY + timedelta(days=5)).isoformat()
    sender = add_sender(client, org, warmup_start_per_day=20, warmup_started_on=later)
    assert sender["effective_daily_limit"] == 20


def test_patch_turning_warmup_on_starts_it_today(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    changed = patch(client, org, f"{SENDERS}/{sender['id']}", dict(warmup_start_per_day=50)).json()
    assert changed["warmup_started_on"] == TODAY.isoformat()
    assert changed["effective_daily_limit"] == 50


def test_patch_changing_the_warmup_keeps_its_first_day(client: TestClient, org: Org) -> None:
    started = (TODAY - timedelta(days=2)).isoformat()
    sender = add_sender(client, org, warmup_start_per_day=20, warmup_started_on=started)
    changed = patch(
        client,
        org,
        f"{SENDERS}/{sender['id']}",
        dict(warmup_start_per_day=30, warmup_increment_per_day=5),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["warmup_started_on"] == started
    assert changed.json()["effective_daily_limit"] == 30 + 5 * 2


def test_patch_null_warmup_started_on_restarts_the_warmup_today(
    client: TestClient, org: Org
) -> None:
    started = (TODAY - timedelta(days=2)).isoformat()
    sender = add_sender(client, org, warmup_start_per_day=20, warmup_started_on=started)
    changed = patch(client, org, f"{SENDERS}/{sender['id']}", dict(warmup_started_on=None)).json()
    assert changed["warmup_started_on"] == TODAY.isoformat()


def test_patch_null_warmup_start_ends_the_warmup(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, daily_limit=500, warmup_start_per_day=20)
    changed = patch(
        client, org, f"{SENDERS}/{sender['id']}", dict(warmup_start_per_day=None)
    ).json()
    assert (changed["warmup_start_per_day"], changed["warmup_started_on"]) == (None, None)
    assert changed["effective_daily_limit"] == 500


def test_warmup_started_on_without_a_warmup_is_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, SENDERS, BODY | dict(warmup_started_on=TODAY.isoformat()))
    assert answer.status_code == 422
    assert answer.json()["code"] == "SENDER_WARMUP_INVALID"
    assert answer.json()["errors"][0]["field"] == "warmup_started_on"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("warmup_start_per_day", 0),
        ("warmup_start_per_day", -5),
        ("warmup_start_per_day", 1.5),
        ("warmup_start_per_day", "ten"),
        ("warmup_start_per_day", 10_000_001),
        ("warmup_increment_per_day", -1),
        ("warmup_increment_per_day", True),
    ],
)
def test_invalid_warmup_figures_are_refused(
    client: TestClient, org: Org, field: str, value: object
) -> None:
    answer = post(client, org, SENDERS, BODY | {"warmup_start_per_day": 10} | {field: value})
    assert answer.status_code == 422
    assert answer.json()["code"] == "SENDER_WARMUP_INVALID"
    assert answer.json()["errors"][0]["field"] == field


def test_patch_cannot_clear_the_warmup_increment(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(warmup_increment_per_day=None))
    assert answer.json()["code"] == "VALUE_REQUIRED"


# -- breaker thresholds ----------------------------------------------------------------------


def test_sender_takes_its_own_thresholds(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org, bounce_rate_threshold=2.5, complaint_rate_threshold="0.1")
    assert (sender["bounce_rate_threshold"], sender["complaint_rate_threshold"]) == (2.5, 0.1)
    changed = patch(
        client, org, f"{SENDERS}/{sender['id']}", dict(bounce_rate_threshold=100)
    ).json()
    assert changed["bounce_rate_threshold"] == 100.0


@pytest.mark.parametrize("value", [0, -1, 100.01, 0.001, "abc", "NaN", True, None])
@pytest.mark.parametrize("field", ["bounce_rate_threshold", "complaint_rate_threshold"])
def test_threshold_must_be_above_0_and_at_most_100(
    client: TestClient, org: Org, field: str, value: object
) -> None:
    answer = post(client, org, SENDERS, BODY | {field: value})
    assert answer.status_code == 422
    assert answer.json()["code"] == "SENDER_THRESHOLD_INVALID"
    assert answer.json()["errors"][0]["field"] == field


def test_patch_cannot_clear_a_threshold(client: TestClient, org: Org) -> None:
    sender = add_sender(client, org)
    answer = patch(client, org, f"{SENDERS}/{sender['id']}", dict(complaint_rate_threshold=None))
    assert answer.json()["code"] == "VALUE_REQUIRED"


# -- pause and resume ---------------------------------------------------------------------------


def test_a_paused_sender_shows_when_and_why(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org)
    pause(as_owner, sender["id"], "bounce rate 7.50% above 5.00%")
    shown = client.get(f"{SENDERS}/{sender['id']}", headers=org.headers(Role.VIEWER)).json()
    assert shown["paused_at"] is not None
    assert shown["paused_reason"] == "bounce rate 7.50% above 5.00%"


def test_resume_clears_the_pause_and_restarts_the_breakers_count(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org)
    pause(as_owner, sender["id"], "complaint rate 1.00% above 0.30%")
    before = datetime.now(UTC)
    answer = resume(client, org, sender["id"], Role.TA_MANAGER)
    assert answer.status_code == 200, answer.text
    resumed = answer.json()
    assert (resumed["paused_at"], resumed["paused_reason"]) == (None, None)
    reset_at = datetime.fromisoformat(resumed["breaker_reset_at"])
    assert before - timedelta(seconds=5) <= reset_at <= datetime.now(UTC)
    row = as_owner.execute(
        "SELECT paused_at, paused_reason, breaker_reset_at FROM senders WHERE id = %s",
        (sender["id"],),
    ).fetchone()
    assert row == (None, None, reset_at)


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_resume_senders(
    client: TestClient, org: Org, as_owner: psycopg.Connection, role: Role
) -> None:
    sender = add_sender(client, org)
    pause(as_owner, sender["id"], "bounces")
    assert resume(client, org, sender["id"], role).status_code == 403
    assert client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()).json()["paused_at"]


def test_another_orgs_sender_cannot_be_resumed(
    client: TestClient, org: Org, other_org: Org, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, other_org)
    pause(as_owner, sender["id"], "bounces")
    answer = resume(client, org, sender["id"])
    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"
    assert client.get(f"{SENDERS}/{sender['id']}", headers=other_org.headers()).json()["paused_at"]


# -- system senders -------------------------------------------------------------------------------


def test_system_senders_cannot_be_created_through_the_api(client: TestClient, org: Org) -> None:
    answer = post(client, org, SENDERS, BODY | dict(transport="system"))
    assert answer.status_code == 422
    assert answer.json()["code"] == "FIELD_UNKNOWN"


def test_a_system_sender_is_listed_with_its_transport(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender_id = add_system_sender(client, as_owner, org)
    shown = client.get(f"{SENDERS}/{sender_id}", headers=org.headers()).json()
    assert shown["transport"] == "system"
    assert (shown["smtp_host"], shown["smtp_port"], shown["smtp_tls"]) == (None, None, None)
    assert shown["effective_daily_limit"] == 1000
    page = client.get(SENDERS, headers=org.headers()).json()
    assert [item["id"] for item in page["items"]] == [sender_id]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("smtp_host", "smtp.example.com"),
        ("smtp_port", 25),
        ("smtp_tls", "tls"),
        ("smtp_username", "me"),
        ("smtp_password", "secret"),
        ("from_email", "me@example.com"),
    ],
)
def test_system_senders_smtp_fields_are_read_only(
    client: TestClient, org: Org, as_owner: psycopg.Connection, field: str, value: object
) -> None:
    sender_id = add_system_sender(client, as_owner, org)
    answer = patch(client, org, f"{SENDERS}/{sender_id}", {field: value, "hourly_limit": 10})
    assert answer.status_code == 409
    assert answer.json()["code"] == "SENDER_SYSTEM_READ_ONLY"
    shown = client.get(f"{SENDERS}/{sender_id}", headers=org.headers()).json()
    assert (shown["smtp_host"], shown["hourly_limit"]) == (None, 200)


def test_system_senders_limits_and_warmup_may_change(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender_id = add_system_sender(client, as_owner, org)
    answer = patch(
        client,
        org,
        f"{SENDERS}/{sender_id}",
        dict(
            from_name="Talent team",
            hourly_limit=10,
            daily_limit=100,
            warmup_start_per_day=5,
            bounce_rate_threshold=3,
        ),
    )
    assert answer.status_code == 200, answer.text
    changed = answer.json()
    assert (changed["from_name"], changed["hourly_limit"], changed["daily_limit"]) == (
        "Talent team",
        10,
        100,
    )
    assert (changed["effective_daily_limit"], changed["bounce_rate_threshold"]) == (5, 3.0)
    assert changed["transport"] == "system"


# -- deleting --------------------------------------------------------------------------------------


def test_a_sender_with_outbox_messages_is_in_use(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    sender = add_sender(client, org)
    campaign = create_campaign(client, org, sender_id=sender["id"])
    add_contacts(client, org, campaign["id"], 1)
    as_owner.execute(
        "INSERT INTO outbox_messages (org_id, campaign_id, campaign_contact_id, channel, status, "
        "sender_id, step) SELECT org_id, campaign_id, id, 'email', 'sent', %s, 'message' "
        "FROM campaign_contacts "
        "WHERE campaign_id = %s",
        (sender["id"], campaign["id"]),
    )
    answer = client.delete(f"{SENDERS}/{sender['id']}", headers=org.headers())
    assert answer.status_code == 409
    assert answer.json()["code"] == "SENDER_IN_USE"
    assert client.get(f"{SENDERS}/{sender['id']}", headers=org.headers()).status_code == 200


def test_deleting_a_campaigns_sender_leaves_the_campaign_without_one(
    client: TestClient, org: Org
) -> None:
    sender = add_sender(client, org)
    campaign = create_campaign(client, org, sender_id=sender["id"])
    assert client.delete(f"{SENDERS}/{sender['id']}", headers=org.headers()).status_code == 204
    shown = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers()).json()
    assert shown["sender_id"] is None
