"""The status workflow: every transition rule and side effect of the spec."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, act, add_contacts, create_campaign, create_template

TODAY = datetime.now(UTC).date()


def code(answer: Any) -> str:
    return str(answer.json()["code"])


@pytest.fixture
def ready(client: TestClient, org: Org) -> dict[str, Any]:
    """A draft campaign with contacts: everything activation asks for."""
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 3)
    return campaign


def test_activation_without_contacts_is_refused(client: TestClient, org: Org) -> None:
    answer = act(client, org, create_campaign(client, org)["id"], "activate")
    assert answer.status_code == 409
    assert code(answer) == "CAMPAIGN_NO_CONTACTS"
    assert answer.json()["title"] == "Cannot activate campaign with 0 contacts"


def test_activation_sets_start_date_and_started_at(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    answer = act(client, org, ready["id"], "activate")
    assert answer.status_code == 200, answer.text
    active = answer.json()
    assert active["status"] == "active"
    assert active["start_date"] == str(TODAY)
    assert active["started_at"] is not None


def test_activation_keeps_a_start_date_already_set(client: TestClient, org: Org) -> None:
    start = TODAY + timedelta(days=3)
    campaign = create_campaign(client, org, start_date=str(start))
    add_contacts(client, org, campaign["id"], 1)
    assert act(client, org, campaign["id"], "activate").json()["start_date"] == str(start)


def test_activating_an_active_campaign_is_refused(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    act(client, org, ready["id"], "activate")
    answer = act(client, org, ready["id"], "activate")
    assert answer.status_code == 409
    assert code(answer) == "CAMPAIGN_ALREADY_ACTIVE"


def test_an_ab_test_without_both_templates_cannot_activate(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    campaign = create_campaign(client, org, is_ab_test=True, variant_a_template_id=template["id"])
    add_contacts(client, org, campaign["id"], 2)
    answer = act(client, org, campaign["id"], "activate")
    assert answer.status_code == 409
    assert code(answer) == "CAMPAIGN_AB_MISSING_TEMPLATES"


def test_activating_an_ab_test_assigns_every_contact_a_variant(
    client: TestClient, org: Org
) -> None:
    campaign = create_campaign(client, org)
    add_contacts(client, org, campaign["id"], 10)  # added before A/B was switched on
    a, b = create_template(client, org), create_template(client, org, name="Second touch")
    client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={
            "is_ab_test": True,
            "variant_a_template_id": a["id"],
            "variant_b_template_id": b["id"],
            "ab_split_percentage": 70,
        },
        headers=org.headers(),
    )
    assert act(client, org, campaign["id"], "activate").status_code == 200
    contacts = client.get(
        f"/api/v1/campaigns/{campaign['id']}/contacts", headers=org.headers()
    ).json()["items"]
    variants = [c["ab_variant"] for c in contacts]
    assert variants.count("A") == 7
    assert variants.count("B") == 3


def test_a_campaign_whose_end_date_has_passed_cannot_activate(
    client: TestClient, org: Org, ready: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    as_owner.execute(
        "UPDATE campaigns SET end_date = current_date - 1 WHERE id = %s", (ready["id"],)
    )
    answer = act(client, org, ready["id"], "activate")
    assert answer.status_code == 409
    assert code(answer) == "CAMPAIGN_INVALID_DATES"


def test_pausing_a_draft_is_an_invalid_transition(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    answer = act(client, org, ready["id"], "pause")
    assert answer.status_code == 409
    assert code(answer) == "INVALID_STATUS_TRANSITION"


def test_pause_and_resume_keep_the_metrics(
    client: TestClient, org: Org, ready: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    act(client, org, ready["id"], "activate")
    as_owner.execute(
        "UPDATE campaigns SET contacts_reached = 3, responses_received = 1 WHERE id = %s",
        (ready["id"],),
    )
    assert act(client, org, ready["id"], "pause").json()["status"] == "paused"
    resumed = act(client, org, ready["id"], "resume").json()
    assert resumed["status"] == "active"
    assert (resumed["contacts_reached"], resumed["responses_received"]) == (3, 1)
    assert resumed["response_rate"] == 33.33


def test_a_paused_campaign_can_be_activated_again(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    act(client, org, ready["id"], "activate")
    act(client, org, ready["id"], "pause")
    assert act(client, org, ready["id"], "activate").json()["status"] == "active"


def test_completion_sets_end_date_to_today_and_completed_at(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    client.patch(
        f"/api/v1/campaigns/{ready['id']}",
        json={"end_date": str(TODAY + timedelta(days=30))},
        headers=org.headers(),
    )
    act(client, org, ready["id"], "activate")
    completed = act(client, org, ready["id"], "complete").json()
    assert completed["status"] == "completed"
    assert completed["end_date"] == str(TODAY)
    assert completed["completed_at"] is not None


def test_a_draft_cannot_be_completed(client: TestClient, org: Org, ready: dict[str, Any]) -> None:
    assert code(act(client, org, ready["id"], "complete")) == "INVALID_STATUS_TRANSITION"


def test_only_a_completed_campaign_can_be_archived(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    act(client, org, ready["id"], "activate")
    assert code(act(client, org, ready["id"], "archive")) == "INVALID_STATUS_TRANSITION"
    act(client, org, ready["id"], "complete")
    archived = act(client, org, ready["id"], "archive").json()
    assert archived["status"] == "archived"
    assert archived["archived_at"] is not None


def test_completed_and_archived_campaigns_are_read_only(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    act(client, org, ready["id"], "activate")
    act(client, org, ready["id"], "complete")
    edit = client.patch(
        f"/api/v1/campaigns/{ready['id']}", json={"name": "Renamed"}, headers=org.headers()
    )
    assert edit.status_code == 409
    assert code(edit) == "CAMPAIGN_READ_ONLY"
    act(client, org, ready["id"], "archive")
    for action in ("activate", "pause", "resume", "complete", "archive"):
        assert code(act(client, org, ready["id"], action)) == "CAMPAIGN_READ_ONLY"
    assert code(add_contacts_answer(client, org, ready)) == "CAMPAIGN_READ_ONLY"


def add_contacts_answer(client: TestClient, org: Org, campaign: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        json={"contacts": [{"email": "late@example.com"}]},
        headers=org.headers(),
    )


@pytest.mark.parametrize(
    ("field", "value"), [("channel", "combined"), ("campaign_type", "mixed"), ("is_ab_test", True)]
)
def test_type_channel_and_ab_setup_are_locked_once_active(
    client: TestClient, org: Org, ready: dict[str, Any], field: str, value: Any
) -> None:
    act(client, org, ready["id"], "activate")
    answer = client.patch(
        f"/api/v1/campaigns/{ready['id']}", json={field: value}, headers=org.headers()
    )
    assert answer.status_code == 409
    assert code(answer) == "CAMPAIGN_FIELD_LOCKED"


def test_an_active_campaign_can_still_be_renamed_and_retargeted(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    act(client, org, ready["id"], "activate")
    answer = client.patch(
        f"/api/v1/campaigns/{ready['id']}",
        json={"name": "Renamed", "target_response_rate": 15, "channel": "email"},
        headers=org.headers(),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "Renamed"


def test_scheduling_needs_a_time_in_the_future(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    answer = act(client, org, ready["id"], "schedule", scheduled_at=past)
    assert answer.status_code == 422
    assert code(answer) == "CAMPAIGN_SCHEDULE_IN_PAST"


def test_scheduling_needs_a_time_zone(client: TestClient, org: Org, ready: dict[str, Any]) -> None:
    answer = act(client, org, ready["id"], "schedule", scheduled_at="2030-01-01T09:00:00")
    assert answer.status_code == 422


def test_scheduling_checks_the_activation_rules_now(client: TestClient, org: Org) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answer = act(client, org, create_campaign(client, org)["id"], "schedule", scheduled_at=soon)
    assert code(answer) == "CAMPAIGN_NO_CONTACTS"


def test_a_scheduled_campaign_can_be_activated_early(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    scheduled = act(client, org, ready["id"], "schedule", scheduled_at=soon.isoformat()).json()
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["scheduled_at"]) == soon
    assert act(client, org, ready["id"], "activate").json()["status"] == "active"


def test_a_recruiter_cannot_run_someone_elses_campaign(
    client: TestClient, org: Org, ready: dict[str, Any]
) -> None:
    answer = client.post(
        f"/api/v1/campaigns/{ready['id']}/activate", headers=org.headers(Role.RECRUITER)
    )
    assert answer.status_code == 403


def test_delete_is_soft_and_hides_the_campaign(
    client: TestClient, org: Org, ready: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    url = f"/api/v1/campaigns/{ready['id']}"
    assert client.delete(url, headers=org.headers()).status_code == 204
    assert client.get(url, headers=org.headers()).status_code == 404
    listed = client.get("/api/v1/campaigns", headers=org.headers()).json()["items"]
    assert ready["id"] not in {c["id"] for c in listed}
    row = as_owner.execute("SELECT deleted_at FROM campaigns WHERE id = %s", (ready["id"],))
    assert row.fetchone()[0] is not None  # type: ignore[index]
