"""The planner's own runs start the contacts of campaigns begun by the manual trigger only: a
tag, a score, a schedule or a webhook starts the others' contacts."""

import psycopg
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls
from tests.factories import Engine, Org, enrolled_members, triggered_campaign


def test_the_planner_starts_by_itself_only_campaigns_begun_by_the_manual_trigger(
    client: TestClient,
    org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    people = [{"email": "ada@example.com"}]
    campaigns = {
        kind: triggered_campaign(client, org, database_urls, as_owner, trigger, contacts=people)
        for kind, trigger in (
            ("manual", {"type": "manual"}),
            ("tag", {"type": "tag", "tag": "vip"}),
            ("score", {"type": "score", "threshold": 10}),
            ("scheduled", {"type": "scheduled", "cron": "0 9 * * *"}),
            ("webhook", {"type": "webhook"}),
        )
    }

    assert Engine(settings, database_urls).plan(org) == 1

    enrolled = {kind: len(enrolled_members(as_owner, c.id)) for kind, c in campaigns.items()}
    assert enrolled == {"manual": 1, "tag": 0, "score": 0, "scheduled": 0, "webhook": 0}
