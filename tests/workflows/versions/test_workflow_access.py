"""Who may read and change a campaign's sequence: as for campaigns (owner recruiter, admin and
TA manager change; viewers read), another organization's campaign is not found, and a
completed or archived campaign is read-only."""

import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import (
    Org,
    act,
    add_contacts,
    create_campaign,
    create_template,
    drip_canvas,
    ok,
    put_workflow,
)

READS = ("workflow", "versions", "versions/1", "versions/1/diff/1")
WRITES = ("workflow/publish", "versions/1/rollback")


def url(campaign_id: str, rest: str) -> str:
    return f"/api/v1/campaigns/{campaign_id}/{rest}"


def published(client: TestClient, org: Org, **fields: Any) -> dict[str, Any]:
    """A campaign with version 1 published (its owner: the `owner` role's user)."""
    campaign = create_campaign(client, org, **fields)
    ok(client.post(url(campaign["id"], "workflow/publish"), headers=org.headers()), 201)
    return campaign


def write(
    client: TestClient, org: Org, campaign_id: str, route: str, headers: dict[str, str]
) -> httpx.Response:
    if route == "workflow":
        canvas = drip_canvas(create_template(client, org)["id"])
        return client.put(url(campaign_id, route), json=canvas, headers=headers)
    return client.post(url(campaign_id, route), headers=headers)


@pytest.mark.parametrize("route", READS)
def test_another_organizations_campaign_is_not_found_on_reads(
    client: TestClient, org: Org, other_org: Org, route: str
) -> None:
    theirs = published(client, other_org)
    answer = client.get(url(theirs["id"], route), headers=org.headers())
    assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")


@pytest.mark.parametrize("route", ["workflow", *WRITES])
def test_another_organizations_campaign_is_not_found_on_writes(
    client: TestClient, org: Org, other_org: Org, route: str
) -> None:
    theirs = published(client, other_org)
    answer = write(client, org, theirs["id"], route, org.headers())
    assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")


def test_an_unknown_campaign_is_not_found(client: TestClient, org: Org) -> None:
    answer = client.get(url(str(uuid.uuid4()), "workflow"), headers=org.headers())
    assert answer.status_code == 404


@pytest.mark.parametrize("route", READS)
def test_viewers_read_the_sequence(client: TestClient, org: Org, route: str) -> None:
    campaign = published(client, org)
    assert client.get(url(campaign["id"], route), headers=org.headers(Role.VIEWER)).is_success


@pytest.mark.parametrize("route", ["workflow", *WRITES])
def test_viewers_cannot_change_the_sequence(client: TestClient, org: Org, route: str) -> None:
    campaign = published(client, org)
    answer = write(client, org, campaign["id"], route, org.headers(Role.VIEWER))
    assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize("route", ["workflow", *WRITES])
def test_a_recruiter_cannot_change_another_owners_sequence(
    client: TestClient, org: Org, route: str
) -> None:
    campaign = published(client, org)  # owned by the admin
    answer = write(client, org, campaign["id"], route, org.headers(Role.RECRUITER))
    assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.TA_MANAGER])
def test_the_owner_and_managers_change_the_sequence(
    client: TestClient, org: Org, role: Role
) -> None:
    campaign = create_campaign(client, org, role=Role.RECRUITER)
    canvas = drip_canvas(create_template(client, org)["id"])
    assert put_workflow(client, org, campaign["id"], canvas, role).status_code == 200
    answer = client.post(url(campaign["id"], "workflow/publish"), headers=org.headers(role))
    assert answer.status_code == 201


@pytest.mark.parametrize("route", ["workflow", *WRITES])
def test_a_completed_campaigns_sequence_is_read_only(
    client: TestClient, org: Org, route: str
) -> None:
    campaign = published(client, org)
    add_contacts(client, org, campaign["id"], 1)
    for action in ("activate", "complete"):
        assert act(client, org, campaign["id"], action).status_code == 200
    answer = write(client, org, campaign["id"], route, org.headers())
    assert (answer.status_code, answer.json()["code"]) == (409, "CAMPAIGN_READ_ONLY")
    assert client.get(url(campaign["id"], "workflow"), headers=org.headers()).is_success
