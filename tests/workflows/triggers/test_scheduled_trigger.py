"""A scheduled trigger enrolls, at each time of its cron (in the campaign's time zone), the
campaign's pending contacts not yet enrolled that were in it by then."""

import uuid
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.workflows.triggers.service import enroll_on_schedule
from tests.factories import Org, enrolled_members, in_org, triggered_campaign

NOW = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # 09:30 in Paris; the cron fired at 09:00
EVERY_MORNING = {"type": "scheduled", "cron": "0 9 * * *"}
PEOPLE = [{"email": f"p{i}@example.com"} for i in range(4)]


def run_schedule(settings: Settings, urls: DatabaseUrls, org: Org) -> int:
    failed: list[uuid.UUID] = []
    enrolled = in_org(urls, org, lambda session: enroll_on_schedule(session, settings, NOW, failed))
    assert failed == []
    return enrolled


def test_the_contacts_in_the_campaign_when_the_cron_fired_are_enrolled(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = triggered_campaign(
        client, org, database_urls, as_owner, EVERY_MORNING, contacts=PEOPLE
    )
    as_owner.execute("UPDATE campaigns SET timezone = 'Europe/Paris' WHERE id = %s", (campaign.id,))
    before, after, unsubscribed, added_before_too = campaign.members
    for member, at in (
        (before, "2026-11-30T07:59:00Z"),
        (after, "2026-11-30T08:01:00Z"),
        (unsubscribed, "2026-11-30T07:00:00Z"),
        (added_before_too, "2026-11-01T07:00:00Z"),
    ):
        as_owner.execute("UPDATE campaign_contacts SET created_at = %s WHERE id = %s", (at, member))
    as_owner.execute(
        "UPDATE campaign_contacts SET status = 'unsubscribed' WHERE id = %s", (unsubscribed,)
    )

    assert run_schedule(settings, database_urls, org) == 2
    assert (
        run_schedule(settings, database_urls, org) == 0
    )  # a second run in the same period: nothing new

    assert enrolled_members(as_owner, campaign.id) == {before, added_before_too}


def test_a_paused_campaign_enrolls_nobody_on_schedule(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = triggered_campaign(
        client, org, database_urls, as_owner, EVERY_MORNING, contacts=PEOPLE, status="paused"
    )
    as_owner.execute(
        "UPDATE campaign_contacts SET created_at = '2026-11-01T00:00:00Z' WHERE campaign_id = %s",
        (campaign.id,),
    )
    assert run_schedule(settings, database_urls, org) == 0
