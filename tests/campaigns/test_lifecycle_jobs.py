"""The lifecycle jobs: scheduled activation, auto-completion, what completion stops, archiving
and retention; each claims its campaigns so that two processes never handle one twice."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.campaigns.jobs import (
    activate_scheduled_campaigns,
    archive_and_expire_campaigns,
    complete_finished_campaigns,
)
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.events.service import NewEvent
from outreach.events.state import EventType
from tests.factories import (
    Org,
    act,
    add_contacts,
    create_ab_campaign,
    create_campaign,
    enrollment_row,
    failing_writes,
    ok,
    record_concurrently,
    run_job,
)

T = TypeVar("T")
TODAY = datetime.now(UTC).date()
# An end date in the past (after its start date, as a constraint requires)
ENDED = "start_date = current_date - 9, end_date = current_date - 1"
Job = Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]


def read(client: TestClient, org: Org, campaign_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/campaigns/{campaign_id}", headers=org.headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def twice_at_once(urls: DatabaseUrls, job: Job[T]) -> tuple[T, T]:
    """Two runs of the job at the same time, as two processes would."""

    async def both(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[T, T]:
        first, second = await asyncio.gather(job(sessionmaker), job(sessionmaker))
        return first, second

    return run_job(urls, both)


def members(added: dict[str, Any]) -> list[uuid.UUID]:
    return [uuid.UUID(row["campaign_contact_id"]) for row in added["results"]]


def active_campaign(client: TestClient, org: Org, contacts: int = 3, **fields: Any) -> Any:
    campaign = create_campaign(client, org, **fields)
    added = add_contacts(client, org, campaign["id"], contacts)
    ok(act(client, org, campaign["id"], "activate"))
    return campaign["id"], members(added)


def scheduled_campaign(
    client: TestClient, org: Org, as_owner: psycopg.Connection, due: bool = True
) -> str:
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 2)
    soon = datetime.now(UTC) + timedelta(hours=1)
    ok(act(client, org, campaign["id"], "schedule", scheduled_at=soon.isoformat()))
    if due:
        as_owner.execute(
            "UPDATE campaigns SET scheduled_at = now() - interval '1 minute' WHERE id = %s",
            (campaign["id"],),
        )
    return str(campaign["id"])


def everyone_sent(urls: DatabaseUrls, org: Org, who: list[uuid.UUID]) -> None:
    events = [NewEvent(m, EventType.EMAIL_SENT, datetime.now(UTC)) for m in who]
    asyncio.run(record_concurrently(urls, org.id, events, writers=1))


def outbox_row(
    as_owner: psycopg.Connection, org: Org, campaign_id: str, member: uuid.UUID, status: str
) -> uuid.UUID:
    lease = "now() + interval '5 minutes'" if status == "sending" else "NULL"
    row = as_owner.execute(
        "INSERT INTO outbox_messages (org_id, campaign_id, campaign_contact_id, channel, status, "
        f"lease_until, step) VALUES (%s, %s, %s, 'sms', %s, {lease}, 'message') RETURNING id",
        (org.id, campaign_id, member, status),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def task_row(
    as_owner: psycopg.Connection, org: Org, campaign_id: str, member: uuid.UUID, status: str
) -> uuid.UUID:
    row = as_owner.execute(
        "INSERT INTO tasks (org_id, campaign_id, campaign_contact_id, owner_id, channel, kind, "
        "status, body, step) VALUES (%s, %s, %s, %s, 'voice', 'call', %s, 'Call them', 'message') "
        "RETURNING id",
        (org.id, campaign_id, member, org.user(), status),
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


# -- scheduled activation ----------------------------------------------------------------


def test_a_scheduled_campaign_becomes_active_when_its_time_comes(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = scheduled_campaign(client, org, as_owner)
    run = run_job(database_urls, activate_scheduled_campaigns)
    assert uuid.UUID(campaign_id) in run.handled.done
    campaign = read(client, org, campaign_id)
    assert campaign["status"] == "active"
    assert campaign["start_date"] == str(TODAY)
    assert campaign["started_at"] is not None
    assert run.report().detail.startswith("activated ")


def test_a_scheduled_campaign_waits_for_its_time(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = scheduled_campaign(client, org, as_owner, due=False)
    run_job(database_urls, activate_scheduled_campaigns)
    assert read(client, org, campaign_id)["status"] == "scheduled"


def test_a_scheduled_ab_test_gets_its_variants_on_activation(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = create_ab_campaign(client, org)
    add_contacts(client, org, campaign["id"], 10)
    soon = datetime.now(UTC) + timedelta(hours=1)
    ok(act(client, org, campaign["id"], "schedule", scheduled_at=soon.isoformat()))
    as_owner.execute("UPDATE campaigns SET scheduled_at = now() WHERE id = %s", (campaign["id"],))
    run_job(database_urls, activate_scheduled_campaigns)
    unassigned = as_owner.execute(
        "SELECT count(*) FROM campaign_contacts WHERE campaign_id = %s AND ab_variant IS NULL",
        (campaign["id"],),
    ).fetchone()
    assert unassigned == (0,)


def test_a_scheduled_campaign_that_no_longer_meets_the_rules_goes_back_to_draft(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = scheduled_campaign(client, org, as_owner)
    as_owner.execute("DELETE FROM campaign_contacts WHERE campaign_id = %s", (campaign_id,))
    run = run_job(database_urls, activate_scheduled_campaigns)
    assert run.handled.refused[uuid.UUID(campaign_id)] == "CAMPAIGN_NO_CONTACTS"
    campaign = read(client, org, campaign_id)
    assert campaign["status"] == "draft"
    assert campaign["last_error"] == (
        "Scheduled activation failed: Cannot activate campaign with 0 contacts"
    )
    # fixed and activated by hand, the error goes
    add_contacts(client, org, campaign_id, 1)
    assert ok(act(client, org, campaign_id, "activate"))["last_error"] is None


def test_two_activation_runs_at_once_activate_each_campaign_once(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    ids = {uuid.UUID(scheduled_campaign(client, org, as_owner)) for _ in range(6)}
    first, second = twice_at_once(database_urls, activate_scheduled_campaigns)
    mine = [cid for cid in first.handled.done + second.handled.done if cid in ids]
    assert sorted(mine) == sorted(ids)  # each once: no duplicates, none missed
    assert {read(client, org, str(cid))["status"] for cid in ids} == {"active"}


# -- auto-completion -----------------------------------------------------------------------


def test_an_active_campaign_completes_once_its_end_date_is_over(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, _ = active_campaign(client, org)
    yesterday = TODAY - timedelta(days=1)
    as_owner.execute(
        "UPDATE campaigns SET start_date = %s, end_date = %s WHERE id = %s",
        (yesterday - timedelta(days=9), yesterday, campaign_id),
    )
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "end_date"
    campaign = read(client, org, campaign_id)
    assert campaign["status"] == "completed"
    assert campaign["end_date"] == str(yesterday)  # an end date already over is kept
    assert campaign["completed_at"] is not None


def test_the_end_date_itself_is_still_a_campaign_day(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id, _ = active_campaign(client, org, end_date=str(TODAY))
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "active"


def test_a_paused_campaign_is_not_completed_automatically(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, _ = active_campaign(client, org)
    ok(act(client, org, campaign_id, "pause"))
    as_owner.execute(
        f"UPDATE campaigns SET {ENDED} WHERE id = %s",
        (campaign_id,),
    )
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "paused"


def test_an_active_campaign_completes_when_both_targets_are_met(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, _ = active_campaign(client, org, target_contacts_count=2, target_response_rate=50)
    as_owner.execute(
        "UPDATE campaigns SET contacts_reached = 2, responses_received = 1 WHERE id = %s",
        (campaign_id,),
    )
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "targets"
    campaign = read(client, org, campaign_id)
    assert campaign["status"] == "completed"
    assert campaign["end_date"] == str(TODAY)


@pytest.mark.parametrize(
    ("targets", "reached", "responses"),
    [
        ({"target_contacts_count": 2, "target_response_rate": 50}, 2, 0),  # rate not met
        ({"target_contacts_count": 2, "target_response_rate": 50}, 1, 1),  # count not met
        ({"target_contacts_count": 2}, 2, 2),  # only one target set
    ],
)
def test_targets_complete_a_campaign_only_when_both_are_set_and_met(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    targets: dict[str, int],
    reached: int,
    responses: int,
) -> None:
    campaign_id, _ = active_campaign(client, org, **targets)
    as_owner.execute(
        "UPDATE campaigns SET contacts_reached = %s, responses_received = %s WHERE id = %s",
        (reached, responses, campaign_id),
    )
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "active"


def test_an_active_campaign_completes_when_every_contact_is_processed(
    client: TestClient, org: Org, database_urls: DatabaseUrls
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who[:2])
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "active"  # one still pending
    everyone_sent(database_urls, org, who[2:])
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "all_processed"
    assert read(client, org, campaign_id)["status"] == "completed"


@pytest.mark.parametrize("status", ["queued", "sending", "awaiting_approval"])
def test_a_message_still_to_send_keeps_the_campaign_running(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    status: str,
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who)
    outbox_row(as_owner, org, campaign_id, who[0], status)
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "active"


def test_an_open_task_keeps_the_campaign_running(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who)
    task_row(as_owner, org, campaign_id, who[0], "open")
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "active"


def test_a_live_enrollment_keeps_the_campaign_running(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who)
    state = enrollment_row(as_owner, org, campaign_id, str(who[0]))  # running: a step to come
    run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "active"
    as_owner.execute(
        "UPDATE campaign_workflow_states SET workflow_status = 'completed' WHERE id = %s", (state,)
    )
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "all_processed"


def test_a_pending_contact_whose_outreach_ended_counts_as_processed(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who[:1])
    outbox_row(as_owner, org, campaign_id, who[1], "failed")  # never reached, never will be
    task_row(as_owner, org, campaign_id, who[2], "skipped")
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "all_processed"


def test_a_contact_no_channel_can_reach_counts_as_processed(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who[:2])
    as_owner.execute(  # what the planner writes for a contact it cannot reach
        "UPDATE campaign_contacts SET started_at = now(), channel = NULL, "
        "error_message = 'no allocated channel can reach this contact' WHERE id = %s",
        (who[2],),
    )
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "all_processed"


def test_two_completion_runs_at_once_complete_each_campaign_once(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    ids = {uuid.UUID(active_campaign(client, org, contacts=1)[0]) for _ in range(6)}
    as_owner.execute(
        f"UPDATE campaigns SET {ENDED} WHERE id = ANY(%s)",
        (list(ids),),
    )
    first, second = twice_at_once(database_urls, complete_finished_campaigns)
    mine = [cid for cid in [*first.completed, *second.completed] if cid in ids]
    assert sorted(mine) == sorted(ids)
    assert {read(client, org, str(cid))["status"] for cid in ids} == {"completed"}


# -- what completion stops -------------------------------------------------------------------


def _outreach_statuses(as_owner: psycopg.Connection, campaign_id: str) -> dict[str, Any]:
    messages = as_owner.execute(
        "SELECT id, status, last_error FROM outbox_messages WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    tasks = as_owner.execute(
        "SELECT id, status FROM tasks WHERE campaign_id = %s", (campaign_id,)
    ).fetchall()
    return {
        "messages": {row[0]: (row[1], row[2]) for row in messages},
        "tasks": {row[0]: row[1] for row in tasks},
    }


@pytest.mark.parametrize("how", ["by hand", "automatically"])
def test_completion_stops_the_queued_outreach(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    how: str,
) -> None:
    campaign_id, who = active_campaign(client, org, contacts=6)
    queued = outbox_row(as_owner, org, campaign_id, who[0], "queued")
    awaiting = outbox_row(as_owner, org, campaign_id, who[1], "awaiting_approval")
    in_flight = outbox_row(as_owner, org, campaign_id, who[2], "sending")
    sent = outbox_row(as_owner, org, campaign_id, who[3], "sent")
    open_task = task_row(as_owner, org, campaign_id, who[4], "open")
    done_task = task_row(as_owner, org, campaign_id, who[5], "done")
    if how == "by hand":
        ok(act(client, org, campaign_id, "complete"))
    else:
        as_owner.execute(
            f"UPDATE campaigns SET {ENDED} WHERE id = %s",
            (campaign_id,),
        )
        run_job(database_urls, complete_finished_campaigns)
    assert read(client, org, campaign_id)["status"] == "completed"
    after = _outreach_statuses(as_owner, campaign_id)
    assert after["messages"] == {
        queued: ("cancelled", "campaign completed"),
        awaiting: ("cancelled", "campaign completed"),
        in_flight: ("sending", None),  # under way: left to finish
        sent: ("sent", None),
    }
    assert after["tasks"] == {open_task: "cancelled", done_task: "done"}


# -- archiving and retention -----------------------------------------------------------------


def archive_job(settings: Settings) -> Job[Any]:
    return lambda sessionmaker: archive_and_expire_campaigns(settings, sessionmaker)


def completed_campaign(
    client: TestClient, org: Org, as_owner: psycopg.Connection, days_ago: int
) -> str:
    campaign_id, _ = active_campaign(client, org)
    ok(act(client, org, campaign_id, "complete"))
    as_owner.execute(
        "UPDATE campaigns SET completed_at = now() - make_interval(days => %s) WHERE id = %s",
        (days_ago, campaign_id),
    )
    return str(campaign_id)


def test_a_completed_campaign_is_archived_after_90_days(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    old = completed_campaign(client, org, as_owner, days_ago=91)
    recent = completed_campaign(client, org, as_owner, days_ago=89)
    run = run_job(database_urls, archive_job(settings))
    assert uuid.UUID(old) in run.archived
    archived = read(client, org, old)
    assert archived["status"] == "archived"
    assert archived["archived_at"] is not None
    assert read(client, org, recent)["status"] == "completed"


def test_archiving_follows_the_setting(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign_id = completed_campaign(client, org, as_owner, days_ago=8)
    run_job(database_urls, archive_job(settings.model_copy(update={"archive_after_days": 7})))
    assert read(client, org, campaign_id)["status"] == "archived"


def _count(as_owner: psycopg.Connection, query: str, *params: Any) -> int:
    row = as_owner.execute(query, params).fetchone()
    assert row is not None
    return int(row[0])


def test_retention_deletes_contact_data_and_keeps_the_figures(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = create_ab_campaign(client, org)
    who = members(add_contacts(client, org, campaign["id"], 4))
    ok(act(client, org, campaign["id"], "activate"))
    everyone_sent(database_urls, org, who)
    outbox_row(as_owner, org, campaign["id"], who[0], "sent")
    task_row(as_owner, org, campaign["id"], who[1], "done")
    kept_campaign_id = completed_campaign(client, org, as_owner, days_ago=200)
    for campaign_id, archived_days_ago in ((campaign["id"], 731), (kept_campaign_id, 700)):
        as_owner.execute(
            "UPDATE campaigns SET status = 'archived', completed_at = now() - interval '800 days',"
            " archived_at = now() - make_interval(days => %s) WHERE id = %s",
            (archived_days_ago, campaign_id),
        )
    before = read(client, org, campaign["id"])
    variants_before = client.get(
        f"/api/v1/campaigns/{campaign['id']}/ab-test", headers=org.headers()
    ).json()["variants"]

    run = run_job(database_urls, archive_job(settings))

    assert run.purged[uuid.UUID(campaign["id"])] == 4
    for table in ("campaign_contacts", "engagement_events", "outbox_messages", "tasks"):
        query = f"SELECT count(*) FROM {table} WHERE campaign_id = %s"
        assert _count(as_owner, query, campaign["id"]) == 0, table
    after = read(client, org, campaign["id"])
    figures = ("total_contacts", "contacts_reached", "emails_sent", "response_rate")
    assert {f: after[f] for f in figures} == {f: before[f] for f in figures}
    assert after["total_contacts"] == 4
    variants_after = client.get(
        f"/api/v1/campaigns/{campaign['id']}/ab-test", headers=org.headers()
    ).json()["variants"]
    assert variants_after == variants_before
    # the people stay: they belong to the organization, and may be in other campaigns
    assert _count(as_owner, "SELECT count(*) FROM contacts WHERE org_id = %s", org.id) == 4
    # archived for less than the retention period: untouched
    query = "SELECT count(*) FROM campaign_contacts WHERE campaign_id = %s"
    assert _count(as_owner, query, kept_campaign_id) == 3


def test_retention_follows_the_setting(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign_id = completed_campaign(client, org, as_owner, days_ago=100)
    as_owner.execute(
        "UPDATE campaigns SET status = 'archived', archived_at = now() - interval '31 days' "
        "WHERE id = %s",
        (campaign_id,),
    )
    run_job(database_urls, archive_job(settings.model_copy(update={"retention_days": 30})))
    query = "SELECT count(*) FROM campaign_contacts WHERE campaign_id = %s"
    assert _count(as_owner, query, campaign_id) == 0


def test_two_archive_runs_at_once_handle_each_campaign_once(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    ids = {uuid.UUID(completed_campaign(client, org, as_owner, days_ago=95)) for _ in range(4)}
    first, second = twice_at_once(database_urls, archive_job(settings))
    mine = [cid for cid in first.archived + second.archived if cid in ids]
    assert sorted(mine) == sorted(ids)


# -- one campaign fails alone ------------------------------------------------------------

UNKNOWN_ZONE = "Mars/Olympus_Mons"  # the API refuses it: written straight into the database


def test_a_zone_the_database_does_not_know_does_not_stop_completion(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    ids = [uuid.UUID(active_campaign(client, org)[0]) for _ in range(3)]
    as_owner.execute(f"UPDATE campaigns SET {ENDED} WHERE id = ANY(%s)", (ids,))
    as_owner.execute("UPDATE campaigns SET timezone = %s WHERE id = %s", (UNKNOWN_ZONE, ids[1]))
    run = run_job(database_urls, complete_finished_campaigns)
    # the unknown zone counts as none: the end date is judged in UTC
    assert [run.completed.get(cid) for cid in ids] == ["end_date"] * 3


def test_a_campaign_whose_completion_fails_is_logged_and_the_others_complete(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [uuid.UUID(active_campaign(client, org)[0]) for _ in range(3)]
    as_owner.execute(f"UPDATE campaigns SET {ENDED} WHERE id = ANY(%s)", (ids,))
    failing = ids[1]
    when = f"NEW.id = '{failing}' AND NEW.status = 'completed'"
    with failing_writes(as_owner, "campaigns", when):
        run = run_job(database_urls, complete_finished_campaigns)
    assert {cid: run.completed.get(cid) for cid in ids} == {
        ids[0]: "end_date",
        failing: None,
        ids[2]: "end_date",
    }
    assert failing in run.failed
    assert read(client, org, str(failing))["status"] == "active"
    assert f"auto-completion failed for campaign {failing}" in caplog.text
    assert "injected failure" in caplog.text
    assert not run.report().ok
    assert f"{len(run.failed)} campaigns failed" in run.report().detail
    # the next run completes it
    assert run_job(database_urls, complete_finished_campaigns).completed[failing] == "end_date"


def test_a_campaign_whose_activation_fails_is_logged_and_the_others_activate(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [uuid.UUID(scheduled_campaign(client, org, as_owner)) for _ in range(3)]
    failing = ids[1]
    with failing_writes(as_owner, "campaigns", f"NEW.id = '{failing}' AND NEW.status = 'active'"):
        run = run_job(database_urls, activate_scheduled_campaigns)
    assert [cid in run.handled.done for cid in ids] == [True, False, True]
    assert failing in run.handled.failed
    assert read(client, org, str(failing))["status"] == "scheduled"
    assert f"scheduled activation failed for campaign {failing}" in caplog.text
    assert not run.report().ok
    assert failing in run_job(database_urls, activate_scheduled_campaigns).handled.done


def test_a_campaign_whose_archiving_fails_is_logged_and_the_others_are_archived(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = [uuid.UUID(completed_campaign(client, org, as_owner, days_ago=91)) for _ in range(3)]
    failing = ids[1]
    when = f"NEW.id = '{failing}' AND NEW.status = 'archived'"
    with failing_writes(as_owner, "campaigns", when):
        run = run_job(database_urls, archive_job(settings))
    assert [cid in run.archived for cid in ids] == [True, False, True]
    assert failing in run.failed
    assert read(client, org, str(failing))["status"] == "completed"
    assert f"archiving failed for campaign {failing}" in caplog.text
    assert not run.report().ok


def test_a_contact_whose_walk_ended_counts_as_processed(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id, who = active_campaign(client, org)
    everyone_sent(database_urls, org, who[:2])
    state = enrollment_row(as_owner, org, campaign_id, str(who[2]))  # enrolled, never reached
    as_owner.execute(
        "UPDATE campaign_workflow_states SET workflow_status = 'exited' WHERE id = %s", (state,)
    )
    run = run_job(database_urls, complete_finished_campaigns)
    assert run.completed[uuid.UUID(campaign_id)] == "all_processed"
