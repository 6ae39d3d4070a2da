"""A tag added to a contact, or a score reaching a threshold from below, enrolls the contact in
the live campaigns it is in whose published trigger asks for it: whether the contacts API or a
sequence's own action made the change."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.kit.tenancy import org_session
from outreach.workflows.actions.service import apply_score, apply_tags
from outreach.workflows.graph.schemas import ScoreAction, TagAction
from outreach.workflows.triggers.jobs import enroll_on_contact_changes
from outreach.workflows.triggers.service import DEFERRED_RETRY, enroll_on_signals
from tests.factories import (
    Org,
    enrolled_members,
    in_org,
    ok,
    outbox_rows,
    patch,
    run_job,
    triggered_campaign,
)


def person_of(as_owner: psycopg.Connection, member: str) -> uuid.UUID:
    row = as_owner.execute(
        "SELECT contact_id FROM campaign_contacts WHERE id = %s", (member,)
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def run_triggers(settings: Settings, urls: DatabaseUrls) -> None:
    report = run_job(urls, lambda sessionmaker: enroll_on_contact_changes(settings, sessionmaker))
    assert report.ok, report.detail


def test_a_tag_added_by_the_contacts_api_enrolls_in_the_campaigns_started_by_that_tag(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    people = [{"email": "ada@example.com"}, {"email": "bob@example.com"}]
    by_vip = triggered_campaign(
        client, org, database_urls, as_owner, {"type": "tag", "tag": "vip"}, contacts=people
    )
    by_other_tag = triggered_campaign(
        client, org, database_urls, as_owner, {"type": "tag", "tag": "cold"}, contacts=people
    )
    manual = triggered_campaign(
        client, org, database_urls, as_owner, {"type": "manual"}, contacts=people
    )
    ada = by_vip.members[0]
    ok(patch(client, org, f"/api/v1/campaigns/{by_vip.id}/contacts/{ada}", {"tags": ["vip"]}))

    run_triggers(settings, database_urls)

    assert enrolled_members(as_owner, by_vip.id) == {ada}
    # started as the planner starts contacts: its channel chosen, its first message queued
    [message] = outbox_rows(as_owner, by_vip.id)
    assert (message["campaign_contact_id"], message["step"]) == (uuid.UUID(ada), "message")
    assert enrolled_members(as_owner, by_other_tag.id) == set()
    assert enrolled_members(as_owner, manual.id) == set()
    left = as_owner.execute(
        "SELECT count(*) FROM contact_trigger_signals WHERE org_id = %s", (org.id,)
    ).fetchone()
    assert left == (0,)


def test_a_tag_added_by_a_sequence_action_enrolls_too(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "tag", "tag": "hot"},
        contacts=[{"email": "ada@example.com"}],
    )
    ada = person_of(as_owner, campaign.members[0])
    in_org(database_urls, org, lambda s: apply_tags(s, TagAction(type="tag", add=["hot"]), [ada]))

    run_triggers(settings, database_urls)

    assert enrolled_members(as_owner, campaign.id) == set(campaign.members)


def test_a_score_trigger_enrolls_when_the_threshold_is_reached_from_below(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "score", "threshold": 50},
        contacts=[{"email": "ada@example.com"}, {"email": "bob@example.com"}],
    )
    ada, bob = (person_of(as_owner, member) for member in campaign.members)

    def raise_by(delta: int, people: list[uuid.UUID]) -> None:
        in_org(
            database_urls,
            org,
            lambda s: apply_score(s, ScoreAction(type="score", delta=delta), people),
        )

    raise_by(40, [ada, bob])
    run_triggers(settings, database_urls)
    assert enrolled_members(as_owner, campaign.id) == set()
    raise_by(10, [ada])  # 40 -> 50: reached
    raise_by(5, [bob])  # 40 -> 45: not yet
    run_triggers(settings, database_urls)
    assert enrolled_members(as_owner, campaign.id) == {campaign.members[0]}


def test_a_tagged_contact_the_lead_limit_holds_back_is_enrolled_by_a_later_run(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "tag", "tag": "vip"},
        contacts=[{"email": "ada@example.com"}, {"email": "bob@example.com"}],
    )
    as_owner.execute("UPDATE campaigns SET daily_lead_limit = 1 WHERE id = %s", (campaign.id,))
    people = [person_of(as_owner, member) for member in campaign.members]
    in_org(database_urls, org, lambda s: apply_tags(s, TagAction(type="tag", add=["vip"]), people))
    now = datetime.now(UTC)

    def run_at(moment: datetime) -> int:
        failed: list[uuid.UUID] = []
        return in_org(database_urls, org, lambda s: enroll_on_signals(s, settings, moment, failed))

    assert run_at(now) == 1
    assert run_at(now + timedelta(minutes=1)) == 0  # not taken again yet
    as_owner.execute("UPDATE campaigns SET daily_lead_limit = 2 WHERE id = %s", (campaign.id,))
    assert run_at(now + DEFERRED_RETRY) == 1
    assert enrolled_members(as_owner, campaign.id) == set(campaign.members)


def test_two_trigger_runs_at_once_enroll_each_tagged_contact_once(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    campaign = triggered_campaign(
        client,
        org,
        database_urls,
        as_owner,
        {"type": "tag", "tag": "vip"},
        contacts=[{"email": f"p{i}@example.com"} for i in range(20)],
    )
    people = [person_of(as_owner, member) for member in campaign.members]
    for person in people:  # one signal each
        in_org(
            database_urls,
            org,
            lambda s, p=person: apply_tags(s, TagAction(type="tag", add=["vip"]), [p]),
        )

    async def one_run(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        failed: list[uuid.UUID] = []
        async with org_session(sessionmaker, org.id) as session, session.begin():
            enrolled = await enroll_on_signals(session, settings, datetime.now(UTC), failed)
        assert failed == []
        return enrolled

    async def two_at_once(sessionmaker: async_sessionmaker[AsyncSession]) -> list[int]:
        return list(await asyncio.gather(one_run(sessionmaker), one_run(sessionmaker)))

    assert sum(run_job(database_urls, two_at_once)) == 20
    assert enrolled_members(as_owner, campaign.id) == set(campaign.members)
