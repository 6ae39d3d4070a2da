"""A workflow's secrets: the webhook trigger's token (the organization, then an HMAC of it and
the campaign under the campaign's trigger key) and the signing secret of webhook actions."""

import uuid
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from outreach.workflows.versions import keys
from tests.factories import Org, create_campaign, ok

KEY = "a-trigger-key"
ORG, CAMPAIGN = uuid.uuid4(), uuid.uuid4()


def test_a_minted_token_names_its_organization_and_verifies_for_its_campaign_only() -> None:
    token = keys.mint(KEY, ORG, CAMPAIGN)
    assert keys.org_of(token) == ORG
    assert keys.verify(token, KEY, ORG, CAMPAIGN)
    assert not keys.verify(token, KEY, ORG, uuid.uuid4())
    assert not keys.verify(token, "another-key", ORG, CAMPAIGN)
    assert not keys.verify(keys.mint(KEY, uuid.uuid4(), CAMPAIGN), KEY, ORG, CAMPAIGN)


def test_a_token_that_is_not_one_names_no_organization() -> None:
    assert keys.org_of("not base64 !") is None
    assert keys.org_of("c2hvcnQ") is None
    assert keys.org_of(keys.mint(KEY, ORG, CAMPAIGN)[:-4]) is None


def test_a_new_workflow_gets_a_signing_secret_its_webhook_actions_can_sign_with(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    ok(client.get(f"/api/v1/campaigns/{campaign['id']}/workflow", headers=org.headers()))
    row = as_owner.execute(
        "SELECT signing_secret FROM campaign_workflows WHERE campaign_id = %s", (campaign["id"],)
    ).fetchone()
    assert row is not None
    assert row[0].startswith("whsec_")
    Webhook(row[0]).sign("msg_1", datetime.now(UTC), "{}")  # raises for a secret of another form
