"""Versions over HTTP: publish, history (paginated), one snapshot, diff and rollback."""

from typing import Any

from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import (
    Org,
    create_campaign,
    create_template,
    drip_canvas,
    listed,
    ok,
    patch,
    put_workflow,
)


def url(campaign_id: str, rest: str) -> str:
    return f"/api/v1/campaigns/{campaign_id}/{rest}"


def publish(client: TestClient, org: Org, campaign_id: str, **body: Any) -> Any:
    answer = client.post(
        url(campaign_id, "workflow/publish"), json=body or None, headers=org.headers()
    )
    return ok(answer, 201)


def drawn_campaign(client: TestClient, org: Org) -> tuple[dict[str, Any], dict[str, Any]]:
    """A campaign with version 1 (the default graph) and version 2 (two emails, a wait)."""
    campaign = create_campaign(client, org)
    publish(client, org, campaign["id"], change_description="As it was")
    canvas = drip_canvas(create_template(client, org)["id"])
    ok(put_workflow(client, org, campaign["id"], canvas))
    publish(client, org, campaign["id"], change_description="Two touches")
    return campaign, canvas


def test_publishing_answers_the_new_version(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    ok(put_workflow(client, org, campaign["id"], drip_canvas(create_template(client, org)["id"])))
    version = publish(client, org, campaign["id"], change_description="First draft")
    assert (version["version"], version["change_type"]) == (1, "published")
    assert version["change_description"] == "First draft"
    assert version["created_by"] == str(org.user(Role.ADMIN))
    draft = ok(client.get(url(campaign["id"], "workflow"), headers=org.headers()))
    assert (draft["published_version"], draft["draft_changed"]) == (1, False)


def test_publishing_checks_the_draft_again(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    template = create_template(client, org)
    ok(put_workflow(client, org, campaign["id"], drip_canvas(template["id"])))
    sms = {"channel": "sms", "subject": None, "body_html": None}
    ok(patch(client, org, f"/api/v1/templates/{template['id']}", sms))
    answer = client.post(url(campaign["id"], "workflow/publish"), headers=org.headers())
    assert answer.status_code == 422
    assert {e["code"] for e in answer.json()["errors"]} == {"WORKFLOW_TEMPLATE_CHANNEL"}


def test_the_history_lists_versions_newest_first_page_by_page(client: TestClient, org: Org) -> None:
    campaign, _ = drawn_campaign(client, org)
    first = listed(client, org, url(campaign["id"], "versions"), limit=1)
    assert [(v["version"], v["change_description"]) for v in first["items"]] == [(2, "Two touches")]
    second = listed(
        client, org, url(campaign["id"], "versions"), limit=1, cursor=first["next_cursor"]
    )
    assert [v["version"] for v in second["items"]] == [1]
    assert second["next_cursor"] is None


def test_a_version_holds_the_campaign_the_steps_and_the_canvas(
    client: TestClient, org: Org
) -> None:
    campaign, canvas = drawn_campaign(client, org)
    patch(client, org, url(campaign["id"], "")[:-1], {"name": "Renamed later"})
    version = listed(client, org, url(campaign["id"], "versions/2"))
    assert version["campaign"]["name"] == campaign["name"]
    assert [step["node_id"] for step in version["steps"]] == [n["id"] for n in canvas["nodes"]]
    wait = next(step for step in version["steps"] if step["node_id"] == "wait")
    assert wait["config"]["business_days"] is False  # typed, defaults filled in
    assert wait["next"] == [{"edge_id": "wait-follow", "type": "default", "target": "follow"}]
    assert [node["id"] for node in version["canvas"]["nodes"]] == [n["id"] for n in canvas["nodes"]]


def test_an_unknown_version_is_not_found(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    answer = client.get(url(campaign["id"], "versions/1"), headers=org.headers())
    assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")


def test_the_diff_names_nodes_and_edges_added_removed_and_changed(
    client: TestClient, org: Org
) -> None:
    campaign, canvas = drawn_campaign(client, org)
    nodes = {node["id"]: node for node in canvas["nodes"]}
    nodes["wait"]["data"]["config"]["value"] = 3
    nodes["follow"]["data"]["label"] = "Second touch"
    canvas["edges"][-1]["label"] = "then"
    ok(put_workflow(client, org, campaign["id"], canvas | {"settings": {"stop_on_reply": False}}))
    patch(client, org, url(campaign["id"], "")[:-1], {"name": "Renamed"})
    publish(client, org, campaign["id"])

    first = listed(client, org, url(campaign["id"], "versions/1/diff/2"))
    assert (first["from_version"], first["to_version"]) == (1, 2)
    assert first["nodes"]["added"] == ["intro", "wait", "follow", "done"]
    assert first["nodes"]["removed"] == ["message", "exit"]
    # The trigger kept its id and config ({"type": "manual"}, defaults filled in), not its label.
    assert first["nodes"]["changed"] == [{"id": "start", "type": "trigger", "changed": ["label"]}]
    assert first["edges"]["removed"] == ["start-message", "message-exit"]

    second = listed(client, org, url(campaign["id"], "versions/2/diff/3"))
    assert second["nodes"]["added"] == second["nodes"]["removed"] == []
    assert second["nodes"]["changed"] == [
        {"id": "wait", "type": "wait", "changed": ["config.value"]},
        {"id": "follow", "type": "email", "changed": ["label"]},
    ]
    assert second["edges"]["changed"] == [{"id": "follow-done", "changed": ["label"]}]
    assert second["campaign_changes"] == [
        {"field": "name", "before": campaign["name"], "after": "Renamed"}
    ]
    assert second["settings_changes"] == [
        {"field": "stop_on_reply", "before": True, "after": False}
    ]


def test_rollback_publishes_the_old_graph_as_a_new_version_and_makes_it_the_draft(
    client: TestClient, org: Org
) -> None:
    campaign, _ = drawn_campaign(client, org)
    answer = client.post(url(campaign["id"], "versions/1/rollback"), headers=org.headers())
    version = ok(answer, 201)
    assert (version["version"], version["change_type"]) == (3, "published")
    assert version["change_description"] == "Rollback to version 1"
    draft = ok(client.get(url(campaign["id"], "workflow"), headers=org.headers()))
    assert (draft["published_version"], draft["draft_changed"]) == (3, False)
    old = listed(client, org, url(campaign["id"], "versions/1"))
    assert draft["canvas"] == old["canvas"]
    diff = listed(client, org, url(campaign["id"], "versions/1/diff/3"))
    assert diff["nodes"] == {"added": [], "removed": [], "changed": []}


def test_rollback_says_why_when_told(client: TestClient, org: Org) -> None:
    campaign, _ = drawn_campaign(client, org)
    answer = client.post(
        url(campaign["id"], "versions/1/rollback"),
        json={"change_description": "Too many touches"},
        headers=org.headers(),
    )
    assert ok(answer, 201)["change_description"] == "Rollback to version 1: Too many touches"


def test_rollback_to_a_graph_whose_template_is_gone_is_refused(
    client: TestClient, org: Org
) -> None:
    campaign, canvas = drawn_campaign(client, org)
    template_id = canvas["nodes"][1]["data"]["config"]["template_id"]
    ok(put_workflow(client, org, campaign["id"], drip_canvas(create_template(client, org)["id"])))
    publish(client, org, campaign["id"])
    assert (
        client.delete(f"/api/v1/templates/{template_id}", headers=org.headers()).status_code == 204
    )
    answer = client.post(url(campaign["id"], "versions/2/rollback"), headers=org.headers())
    assert answer.status_code == 422
    assert answer.json()["code"] == "WORKFLOW_INVALID"


def test_publishing_honours_the_idempotency_key(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    headers = org.headers() | {"Idempotency-Key": "publish-once"}
    first = client.post(url(campaign["id"], "workflow/publish"), headers=headers)
    again = client.post(url(campaign["id"], "workflow/publish"), headers=headers)
    assert ok(first, 201) == ok(again, 201)
    assert len(listed(client, org, url(campaign["id"], "versions"))["items"]) == 1
