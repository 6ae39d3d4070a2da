"""The draft sequence over HTTP: GET answers the default graph until one is drawn, PUT validates
and saves, and says whether the draft differs from what is published."""

import base64
import hashlib
import hmac
import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.workflows.graph.default import default_canvas
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


def workflow_url(campaign_id: str) -> str:
    return f"/api/v1/campaigns/{campaign_id}/workflow"


def read(client: TestClient, org: Org, campaign_id: str, role: Role = Role.ADMIN) -> Any:
    return ok(client.get(workflow_url(campaign_id), headers=org.headers(role)))


def publish(client: TestClient, org: Org, campaign_id: str, **body: Any) -> Any:
    answer = client.post(
        f"{workflow_url(campaign_id)}/publish", json=body or None, headers=org.headers()
    )
    return ok(answer, 201)


def test_a_campaign_never_drawn_has_the_default_graph(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    draft = read(client, org, campaign["id"])
    assert draft["canvas"] == default_canvas().model_dump(mode="json")
    assert (draft["published_version"], draft["draft_changed"]) == (None, True)
    assert draft["sequence_type"] == "linear"


def test_a_valid_canvas_is_saved_as_the_draft(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    template = create_template(client, org)
    canvas = drip_canvas(template["id"])
    saved = ok(put_workflow(client, org, campaign["id"], canvas))
    assert [node["id"] for node in saved["canvas"]["nodes"]] == [n["id"] for n in canvas["nodes"]]
    assert saved["canvas"]["settings"]["stop_on_reply"] is True
    assert read(client, org, campaign["id"])["canvas"] == saved["canvas"]
    assert saved["updated_by"] == str(org.user(Role.ADMIN))


def test_a_canvas_with_problems_answers_every_problem(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    canvas = drip_canvas(str(uuid.uuid4()))  # a template that does not exist, twice
    canvas["edges"].append({"id": "lost", "source": "done", "target": "nowhere"})
    answer = put_workflow(client, org, campaign["id"], canvas)
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "WORKFLOW_INVALID"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("nodes.intro", "WORKFLOW_TEMPLATE_MISSING"),
        ("nodes.follow", "WORKFLOW_TEMPLATE_MISSING"),
        ("edges.lost", "WORKFLOW_EDGE_MISSING_NODE"),
    }
    assert read(client, org, campaign["id"])["canvas"] == default_canvas().model_dump(mode="json")


def test_one_problem_is_still_workflow_invalid(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    canvas = drip_canvas(create_template(client, org)["id"])
    canvas["nodes"].pop()  # no exit: the walk stops at follow
    canvas["edges"].pop()
    body = put_workflow(client, org, campaign["id"], canvas).json()
    assert body["code"] == "WORKFLOW_INVALID"
    assert [e["code"] for e in body["errors"]] == ["WORKFLOW_NODE_DEAD_END"]


def test_another_organizations_template_does_not_exist_here(
    client: TestClient, org: Org, other_org: Org
) -> None:
    campaign = create_campaign(client, org)
    theirs = create_template(client, other_org)
    body = put_workflow(client, org, campaign["id"], drip_canvas(theirs["id"])).json()
    assert {e["code"] for e in body["errors"]} == {"WORKFLOW_TEMPLATE_MISSING"}


def test_the_sequence_type_follows_the_graph(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    canvas = drip_canvas(create_template(client, org)["id"])
    nodes = {node["id"]: node for node in canvas["nodes"]}
    nodes["wait"]["type"] = "condition"
    nodes["wait"]["data"]["config"] = {
        "condition": {"type": "tag", "operator": "==", "value": "hot"}
    }
    canvas["edges"][1:3] = [
        {"id": "t", "source": "wait", "target": "follow", "type": "conditional-true"},
        {"id": "f", "source": "wait", "target": "done", "type": "conditional-false"},
    ]
    canvas["edges"].insert(1, {"id": "intro-wait", "source": "intro", "target": "wait"})
    nodes["follow"]["type"] = "sms"
    nodes["follow"]["data"]["config"] = {
        "template_id": create_template(client, org, channel="sms", subject=None)["id"]
    }
    assert ok(put_workflow(client, org, campaign["id"], canvas))["sequence_type"] == "branching"


def test_saving_what_is_published_leaves_the_draft_unchanged(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    canvas = drip_canvas(create_template(client, org)["id"])
    put_workflow(client, org, campaign["id"], canvas)
    publish(client, org, campaign["id"])
    assert read(client, org, campaign["id"])["draft_changed"] is False
    canvas["nodes"][1]["data"]["label"] = "Hello"
    assert ok(put_workflow(client, org, campaign["id"], canvas))["draft_changed"] is True
    canvas["nodes"][1]["data"]["label"] = "intro"
    saved = ok(put_workflow(client, org, campaign["id"], canvas))
    assert (saved["draft_changed"], saved["published_version"]) == (False, 1)


def test_the_draft_of_an_active_campaign_may_change_and_waits_for_publishing(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 1)
    assert act(client, org, campaign["id"], "activate").status_code == 200
    number = publish(client, org, campaign["id"])["version"]
    canvas = drip_canvas(create_template(client, org)["id"])
    saved = ok(put_workflow(client, org, campaign["id"], canvas))
    assert (saved["published_version"], saved["draft_changed"]) == (number, True)
    nodes = as_owner.execute(
        "SELECT jsonb_array_length(canvas_snapshot->'nodes') FROM campaign_versions "
        "WHERE campaign_id = %s AND version = %s",
        (campaign["id"], number),
    ).fetchone()
    assert nodes == (3,)  # the published version is still the default graph


def test_the_trigger_url_is_signed_for_the_campaign_and_shown_to_editors_only(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org, role=Role.RECRUITER)
    url = read(client, org, campaign["id"], Role.RECRUITER)["trigger_url"]
    prefix = f"http://testserver/api/v1/triggers/{campaign['id']}/"
    assert url.startswith(prefix)
    row = as_owner.execute(
        "SELECT trigger_key FROM campaign_workflows WHERE campaign_id = %s", (campaign["id"],)
    ).fetchone()
    assert row is not None
    token = base64.urlsafe_b64decode(url.removeprefix(prefix) + "==")
    message = f"workflow-trigger:{org.id}:{campaign['id']}".encode()
    mac = hmac.new(row[0].encode(), message, hashlib.sha256).digest()
    assert token == org.id.bytes + mac  # the organization, then the campaign signed by its key
    assert read(client, org, campaign["id"], Role.VIEWER)["trigger_url"] is None
    other_recruiter = org.headers(Role.RECRUITER, user_id=uuid.uuid4())
    answer = client.get(workflow_url(campaign["id"]), headers=other_recruiter)
    assert ok(answer)["trigger_url"] is None
