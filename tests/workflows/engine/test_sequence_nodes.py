"""The engine's action and split nodes in real sequences: tags that a later condition reads,
variants that pick the edge, webhooks delivered signed and retried."""

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.kit.webhooks import new_signing_secret
from tests.factories import (
    MailSink,
    Org,
    Walker,
    canvas,
    chain,
    create_template,
    ok,
    sequence_campaign,
    states,
    workflow_events,
)
from tests.workflows.actions.hook_server import HookServer, hook_server

START = ("start", "trigger", {"type": "manual"})
DONE = ("done", "exit", {})
SECRET = new_signing_secret()


def test_an_action_tags_the_contact_and_a_later_condition_reads_the_tag(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    template = create_template(client, org)
    graph = canvas(
        [
            START,
            ("tag", "action", {"type": "tag", "add": ["hot"]}),
            ("hot", "condition", {"condition": {"type": "tag", "operator": "==", "value": "hot"}}),
            ("touch", "email", {"template_id": template["id"]}),
            DONE,
        ],
        [
            ("start", "tag"),
            ("tag", "hot"),
            ("hot", "touch", "conditional-true"),
            ("hot", "done", "conditional-false"),
            ("touch", "done"),
        ],
    )
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=2
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    tags = as_owner.execute(
        "SELECT c.tags FROM contacts c JOIN campaign_contacts cc ON cc.contact_id = c.id "
        "WHERE cc.campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    assert [row[0] for row in tags] == [["hot"], ["hot"]]
    assert workflow_events(as_owner, campaign_id)["tag_added"] == 2
    assert {s["current_node_id"] for s in states(as_owner, campaign_id)} == {"touch"}


def split_graph(client: TestClient, org: Org) -> dict[str, Any]:
    short, long = create_template(client, org), create_template(client, org)
    variants = [{"id": "a", "percentage": 50}, {"id": "b", "percentage": 50}]
    return canvas(
        [
            START,
            ("split", "split", {"variants": variants}),
            ("short", "email", {"template_id": short["id"]}),
            ("long", "email", {"template_id": long["id"]}),
            DONE,
        ],
        [
            ("start", "split"),
            ("split", "short", "variant-a"),
            ("split", "long", "variant-b"),
            ("short", "done"),
            ("long", "done"),
        ],
    )


def test_a_split_sends_each_contact_down_its_variant_s_edge(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, split_graph(client, org), contacts=40
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    walked = states(as_owner, campaign_id)
    step_of = {"a": "short", "b": "long"}
    for state in walked:
        variant = state["variants"]["split"]["variant"]
        assert state["assigned_variant"] == variant
        assert state["current_node_id"] == step_of[variant]
    assert set(Counter(s["assigned_variant"] for s in walked)) == {"a", "b"}


def test_a_declared_winner_takes_every_new_arrival_at_its_split(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, split_graph(client, org), contacts=20
    )
    declared = client.post(
        f"/api/v1/campaigns/{campaign_id}/ab-tests/split/winner",
        json={"variant_id": "b"},
        headers=org.headers(),
    )
    ok(declared)
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    assert {s["current_node_id"] for s in states(as_owner, campaign_id)} == {"long"}


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    with hook_server(SECRET) as server:
        yield server


def webhook_campaign(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    urls: DatabaseUrls,
    sink: MailSink,
    url: str,
) -> tuple[str, list[str]]:
    action: dict[str, Any] = {
        "type": "webhook",
        "url": url,
        "payload": {"who": "{{first_name}}"},
    }
    graph = canvas([START, ("hook", "action", action), DONE], [("start", "hook"), ("hook", "done")])
    campaign_id, members = sequence_campaign(client, org, as_owner, urls, sink, graph, contacts=1)
    as_owner.execute(
        "UPDATE campaign_workflows SET signing_secret = %s WHERE campaign_id = %s",
        (SECRET, campaign_id),
    )
    return campaign_id, members


def test_a_webhook_action_delivers_the_signed_payload_and_goes_on(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
    hooks: HookServer,
) -> None:
    campaign_id, members = webhook_campaign(
        client, org, as_owner, database_urls, mail_sink, f"{hooks.url}/ok"
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    assert [r.verified for r in hooks.received] == [{"who": "Person0"}]
    assert states(as_owner, campaign_id)[0]["workflow_status"] == "completed"
    assert workflow_events(as_owner, campaign_id)["webhook_succeeded"] == 1


def test_a_webhook_that_answers_500_is_retried_later(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
    hooks: HookServer,
) -> None:
    campaign_id, members = webhook_campaign(
        client, org, as_owner, database_urls, mail_sink, f"{hooks.url}/status/500"
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    state = states(as_owner, campaign_id)[0]
    assert (state["workflow_status"], state["current_node_id"], state["retry_count"]) == (
        "running",
        "hook",
        1,
    )
    assert state["next_execution_at"] > walker.clock.now()
    assert walker.walk(org) == 0  # not before its delay
    walker.later(org, timedelta(hours=1))
    assert len(hooks.received) == 2
    assert workflow_events(as_owner, campaign_id)["webhook_failed"] == 2


def test_a_linkedin_step_is_a_task_and_the_walk_goes_on_once_it_is_done(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    note = create_template(
        client,
        org,
        channel="linkedin",
        linkedin_kind="connection_request",
        subject=None,
        body_text="Hi {{first_name}}",
    )
    follow_up = create_template(client, org)
    graph = chain(
        START,
        ("connect", "linkedin", {"template_id": note["id"]}),
        ("mail", "email", {"template_id": follow_up["id"]}),
        DONE,
    )
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=1
    )
    as_owner.execute(
        "UPDATE contacts SET linkedin_url = 'https://www.linkedin.com/in/person0' "
        "WHERE org_id = %s",
        (org.id,),
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    task = as_owner.execute(
        "SELECT id, channel, kind, body, step FROM tasks WHERE campaign_id = %s", (campaign_id,)
    ).fetchone()
    assert task is not None
    assert task[1:] == ("linkedin", "connection_request", "Hi Person0", "connect")
    ok(client.post(f"/api/v1/tasks/{task[0]}/complete", json={}, headers=org.headers()))
    walker.later(org, timedelta(minutes=1))
    assert states(as_owner, campaign_id)[0]["current_node_id"] == "mail"


def test_a_step_that_cannot_reach_the_contact_is_skipped_with_the_reason(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    text = create_template(client, org, channel="sms", subject=None, body_text="Hi {{first_name}}")
    graph = chain(START, ("text", "sms", {"template_id": text["id"]}), DONE)
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=1
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)  # the contact has no phone number
    assert states(as_owner, campaign_id)[0]["workflow_status"] == "completed"
    skipped = as_owner.execute(
        "SELECT event_data ->> 'reason' FROM engagement_events "
        "WHERE campaign_id = %s AND event_type = 'step_skipped'",
        (campaign_id,),
    ).fetchall()
    assert skipped == [("no phone to reach the contact by sms",)]
