"""With no sender of its own, an organization sends through the system sender: locally, the
embedded mail catcher, whose mail a newcomer reads through the API."""

import psycopg
from fastapi.testclient import TestClient

from outreach.embedded import MailCatcher
from tests.factories import Engine, Org, autopilot_campaign_all_week


def test_a_campaign_without_a_sender_sends_to_the_mail_catcher(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    engine: Engine,
    mail_catcher: MailCatcher,
) -> None:
    engine.settings = engine.settings.model_copy(
        update={"smtp_url": mail_catcher.smtp_url, "mail_catcher": mail_catcher.instance}
    )
    campaign = autopilot_campaign_all_week(client, org, as_owner, 2)
    client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    engine.plan(org)
    # the system sender keeps the careful defaults (30 s apart): lifted for the test
    as_owner.execute("UPDATE senders SET min_spacing_seconds = 0 WHERE org_id = %s", (org.id,))
    assert engine.send(org) == 2

    senders = client.get("/api/v1/senders", headers=org.headers()).json()["items"]
    assert [(s["from_email"], s["transport"]) for s in senders] == [
        ("outreach@localhost", "system")
    ]
    caught = client.get("/api/v1/mail-catcher/messages", headers=org.headers()).json()["items"]
    assert sorted(m["to"][0] for m in caught) == ["person0@example.com", "person1@example.com"]
    message = client.get(
        f"/api/v1/mail-catcher/messages/{caught[0]['id']}", headers=org.headers()
    ).json()
    assert message["subject"].startswith("Hello Person")
    assert "/t/o/" in message["html"]
