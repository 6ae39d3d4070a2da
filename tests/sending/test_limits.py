"""Sending like a careful person: sender limits, spacing, warm-up, windows, circuit breaker."""

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient

from outreach.sending.senders.limits import SenderLimits
from tests.factories import (
    Engine,
    MailSink,
    Org,
    add_contacts,
    create_sender,
    outbox_rows,
    post_contacts,
    ready_campaign,
)


def _due_now(as_owner: psycopg.Connection, org: Org) -> None:
    as_owner.execute("UPDATE tenant_directory SET outbox_due_at = now() WHERE id = %s", (org.id,))


def test_an_hourly_limit_holds_across_passes(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port, hourly_limit=2)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=5)
    engine.plan(org)
    engine.send(org)
    _due_now(as_owner, org)
    engine.send(org)
    assert len(mail_sink.messages) == 2
    statuses = sorted(row["status"] for row in outbox_rows(as_owner, campaign["id"]))
    assert statuses == ["queued", "queued", "queued", "sent", "sent"]


def test_sends_from_an_hour_ago_free_the_hourly_limit_but_not_the_daily_one(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port, hourly_limit=2, daily_limit=3)
    ready_campaign(client, org, as_owner, sender, contacts=5)
    engine.plan(org)
    engine.send(org)
    as_owner.execute(
        "UPDATE sender_usage SET minute = minute - interval '62 minutes' WHERE sender_id = %s",
        (sender["id"],),
    )
    _due_now(as_owner, org)
    engine.send(org)
    assert len(mail_sink.messages) == 3  # 2 an hour ago, then 1 more: 3 a day


def test_minimum_spacing_sends_one_message_then_waits_with_jitter(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port, min_spacing_seconds=60)
    ready_campaign(client, org, as_owner, sender, contacts=3)
    engine.plan(org)
    started = datetime.now(UTC)
    engine.send(org)
    _due_now(as_owner, org)
    engine.send(org)
    assert len(mail_sink.messages) == 1
    next_send = as_owner.execute(
        "SELECT next_send_at FROM senders WHERE id = %s", (sender["id"],)
    ).fetchone()
    assert next_send is not None
    wait = next_send[0] - started
    assert timedelta(seconds=59) < wait < timedelta(seconds=91)  # 60 s plus up to 50 %


def test_spacing_jitter_spreads_sends_inside_its_bounds() -> None:
    limits = SenderLimits(hourly_limit=200, daily_limit=1000, min_spacing_seconds=30)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    rng = random.Random(7)
    waits = [(limits.next_send_at(now, 0.5, rng) - now).total_seconds() for _ in range(500)]
    assert min(waits) >= 30
    assert max(waits) <= 45
    assert len({round(w) for w in waits}) > 10  # not a clock tick


def test_warm_up_ramps_the_daily_limit_up_to_its_ceiling() -> None:
    limits = SenderLimits(
        hourly_limit=200,
        daily_limit=100,
        min_spacing_seconds=0,
        warmup_start_per_day=20,
        warmup_increment_per_day=15,
        warmup_started_on=date(2026, 11, 1),
    )
    assert limits.daily_limit_on(date(2026, 11, 1)) == 20
    assert limits.daily_limit_on(date(2026, 11, 3)) == 50
    assert limits.daily_limit_on(date(2026, 12, 1)) == 100
    assert (
        limits.allowance(used_last_hour=0, used_last_day=50, today=date(2026, 11, 3), batch=50) == 0
    )


def test_a_warming_up_sender_sends_no_more_than_its_ramp_allows(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    sender = create_sender(client, org, mail_sink.port)
    as_owner.execute(
        "UPDATE senders SET warmup_start_per_day = 2, warmup_increment_per_day = 1, "
        "warmup_started_on = current_date WHERE id = %s",
        (sender["id"],),
    )
    ready_campaign(client, org, as_owner, sender, contacts=4)
    engine.plan(org)
    engine.send(org)
    assert len(mail_sink.messages) == 2


def test_the_sending_window_applies_in_each_contacts_time_zone(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    # UTC+14 and UTC-12 are 26 hours apart: their dates always differ, so a window open on
    # today's weekday in Kiritimati is closed for the whole day at UTC-12.
    kiritimati = datetime.now(ZoneInfo("Pacific/Kiritimati"))
    sender = create_sender(client, org, mail_sink.port)
    campaign = ready_campaign(
        client,
        org,
        as_owner,
        sender,
        contacts=0,
        window=([kiritimati.isoweekday()], "00:00", "23:59:59"),
        activate=False,
    )
    post_contacts(
        client,
        org,
        campaign["id"],
        [
            {"email": "east@example.com", "first_name": "E", "timezone": "Pacific/Kiritimati"},
            {"email": "west@example.com", "first_name": "W", "timezone": "Etc/GMT+12"},
        ],
    )
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    engine.plan(org)
    engine.send(org)

    assert [m["To"].addresses[0].addr_spec for m in mail_sink.messages] == ["east@example.com"]
    west = next(
        r for r in outbox_rows(as_owner, campaign["id"]) if r["email"] == "west@example.com"
    )
    assert west["status"] == "queued"
    opens = west["due_at"].astimezone(ZoneInfo("Etc/GMT+12"))
    assert opens > datetime.now(UTC)
    assert (opens.isoweekday(), opens.hour, opens.minute) == (kiritimati.isoweekday(), 0, 0)


def test_the_window_falls_back_to_the_campaign_time_zone_then_utc(
    as_owner: psycopg.Connection,
) -> None:
    # Monday 2026-11-23 16:30 UTC is 17:30 in Paris: after a 9-17 window there.
    at = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)
    row = as_owner.execute(
        "SELECT next_in_window(%s, 'Europe/Paris', '{1,2,3,4,5}', '09:00', '17:00'), "
        "next_in_window(%s, 'UTC', '{1,2,3,4,5}', '09:00', '17:00'), "
        "next_in_window(%s, 'UTC', '{6}', '09:00', '17:00')",
        (at, at, at),
    ).fetchone()
    assert row is not None
    assert row[0] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # Tuesday 09:00 in Paris
    assert row[1] == at  # inside the window in UTC
    assert row[2] == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)  # the next Saturday


def test_a_sender_with_too_many_hard_bounces_is_paused_and_says_why(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    engine.settings = engine.settings.model_copy(
        update={"breaker_min_sends": 10, "breaker_window": 100}
    )
    mail_sink.refusals["person0@example.com"] = "550 5.1.1 No such user"
    sender = create_sender(client, org, mail_sink.port, hourly_limit=10)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=10)
    engine.plan(org)
    engine.send(org)  # 10 sends, one of them a hard bounce: 10 % > 5 %
    add_contacts(client, org, campaign["id"], 5, start=10)
    engine.plan(org)
    as_owner.execute(
        "UPDATE sender_usage SET minute = minute - interval '2 hours' WHERE sender_id = %s",
        (sender["id"],),
    )
    _due_now(as_owner, org)
    engine.send(org)

    assert len(mail_sink.messages) == 9
    answer = client.get(f"/api/v1/senders/{sender['id']}", headers=org.headers()).json()
    paused = as_owner.execute(
        "SELECT paused_at, paused_reason FROM senders WHERE id = %s", (sender["id"],)
    ).fetchone()
    assert paused is not None
    assert paused[0] is not None
    assert "hard-bounce rate 10.00%" in paused[1]
    assert answer["id"] == sender["id"]
    detail = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers()).json()
    assert detail["last_error"] == paused[1]


def test_complaints_over_the_threshold_pause_the_sender(
    client: TestClient, org: Org, as_owner: psycopg.Connection, engine: Engine, mail_sink: MailSink
) -> None:
    engine.settings = engine.settings.model_copy(
        update={"breaker_min_sends": 10, "breaker_window": 100}
    )
    sender = create_sender(client, org, mail_sink.port, hourly_limit=10)
    campaign = ready_campaign(client, org, as_owner, sender, contacts=12)
    engine.plan(org)
    engine.send(org)
    sent = next(r for r in outbox_rows(as_owner, campaign["id"]) if r["status"] == "sent")
    as_owner.execute(
        "UPDATE campaign_contacts SET complained_at = now() WHERE id = %s",
        (sent["campaign_contact_id"],),
    )
    as_owner.execute(
        "UPDATE sender_usage SET minute = minute - interval '2 hours' WHERE sender_id = %s",
        (sender["id"],),
    )
    _due_now(as_owner, org)
    engine.send(org)
    assert len(mail_sink.messages) == 10
    reason = as_owner.execute(
        "SELECT paused_reason FROM senders WHERE id = %s", (sender["id"],)
    ).fetchone()
    assert reason is not None
    assert "complaint rate 10.00%" in reason[0]
