"""Publishing: versions are numbered, immutable, and new enrollments take the latest."""

import uuid

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.db import DatabaseUrls
from outreach.kit.tenancy import org_session
from outreach.models import Campaign
from outreach.workflows.graph.default import EXIT, MESSAGE, START
from outreach.workflows.versions import service
from tests.factories import Org, create_campaign, run_job


def publish_twice(database_urls: DatabaseUrls, org: Org, campaign_id: str) -> list[int]:
    async def job(sessionmaker):  # type: ignore[no-untyped-def]
        numbers = []
        async with org_session(sessionmaker, org.id) as session, session.begin():
            campaign = (
                await session.execute(select(Campaign).where(Campaign.id == uuid.UUID(campaign_id)))
            ).scalar_one()
            numbers.append(await service.ensure_published(session, campaign))
            numbers.append(await service.ensure_published(session, campaign))
            numbers.append(await service.publish(session, campaign, description="again"))
            graph = await service.graph_of(session, campaign.id, numbers[-1])
            assert (graph.start, graph.next(START), graph.next(MESSAGE)) == (START, MESSAGE, EXIT)
        return numbers

    return run_job(database_urls, job)


def test_a_campaign_without_a_graph_publishes_the_default_once_then_numbers_new_versions(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    assert publish_twice(database_urls, org, campaign["id"]) == [1, 1, 2]
    rows = as_owner.execute(
        "SELECT version, change_type, change_description, steps_snapshot, campaign_snapshot "
        "FROM campaign_versions WHERE campaign_id = %s ORDER BY version",
        (campaign["id"],),
    ).fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, "published", None), (2, "published", "again")]
    assert [step["node_type"] for step in rows[0][3]] == ["trigger", "message", "exit"]
    assert rows[0][4]["name"] == campaign["name"]


def test_versions_cannot_be_changed_or_removed_by_the_application(
    as_app: psycopg.Connection,
) -> None:
    for privilege, granted in (("INSERT", True), ("UPDATE", False), ("DELETE", False)):
        row = as_app.execute(
            "SELECT has_table_privilege('campaign_versions', %s)", (privilege,)
        ).fetchone()
        assert row == (granted,), privilege
