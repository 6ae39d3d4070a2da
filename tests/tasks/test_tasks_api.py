"""Tasks: the manual steps people do by hand, who sees them, and what doing one records."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, RunningCampaign, insert_row, listed_items, start_campaign

TASKS = "/api/v1/tasks"
PEOPLE = [
    {
        "email": f"person{i}@example.com",
        "first_name": f"Person{i}",
        "last_name": "Doe",
        "linkedin_url": f"https://www.linkedin.com/in/person{i}",
        "phone": f"+33 6 00 00 00 0{i}",
        "company_name": "Acme",
    }
    for i in range(4)
]
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def ids(tasks: list[dict[str, Any]]) -> list[str]:
    return [task["id"] for task in tasks]


@pytest.fixture
def running(client: TestClient, org: Org) -> RunningCampaign:
    return start_campaign(client, org, PEOPLE, name="LinkedIn push", channel="combined")


def add_task(
    as_owner: psycopg.Connection,
    org: Org,
    campaign: RunningCampaign,
    member: int = 0,
    **fields: Any,
) -> str:
    values = {
        "campaign_id": campaign.id,
        "campaign_contact_id": campaign.members[member],
        "owner_id": campaign.owner_id,
        "channel": "linkedin",
        "kind": "connection_request",
        "body": f"Hi Person{member}, let's connect",
        "due_at": T0,
        "step": "message",
        **fields,
    }
    return insert_row(as_owner, "tasks", org, **values)


def complete(
    client: TestClient, org: Org, task_id: str, role: Role = Role.RECRUITER, **body: Any
) -> Any:
    return client.post(f"{TASKS}/{task_id}/complete", json=body, headers=org.headers(role))


def campaign_of(client: TestClient, org: Org, campaign: RunningCampaign) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/campaigns/{campaign.id}", headers=org.headers()).json())


def events_of(as_owner: psycopg.Connection, member: str) -> list[tuple[Any, ...]]:
    return as_owner.execute(
        "SELECT event_type, provider, provider_event_id, event_data FROM engagement_events "
        "WHERE campaign_contact_id = %s",
        (member,),
    ).fetchall()


def test_a_task_carries_the_person_the_message_and_the_campaign(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 1, kind="inmail", subject="A role at Acme")
    answer = client.get(f"{TASKS}/{task_id}", headers=org.headers(Role.RECRUITER))
    assert answer.status_code == 200, answer.text
    task = answer.json()
    assert (task["status"], task["channel"], task["kind"]) == ("open", "linkedin", "inmail")
    assert (task["subject"], task["body"]) == ("A role at Acme", "Hi Person1, let's connect")
    assert task["campaign_name"] == "LinkedIn push"
    assert task["campaign_contact_id"] == running.members[1]
    person = task["contact"]
    assert (person["first_name"], person["email"], person["company_name"]) == (
        "Person1",
        "person1@example.com",
        "Acme",
    )
    assert person["linkedin_url"] == "https://www.linkedin.com/in/person1"
    assert person["phone"] == "+33 6 00 00 00 01"


def test_a_recruiter_sees_their_own_open_tasks_soonest_due_first(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    later = add_task(as_owner, org, running, 0, due_at=T0 + timedelta(hours=2))
    sooner = add_task(as_owner, org, running, 1, due_at=T0)
    add_task(as_owner, org, running, 2, owner_id=org.user(Role.TA_MANAGER))
    add_task(as_owner, org, running, 3, status="done")
    assert ids(listed_items(client, org, TASKS, Role.RECRUITER)) == [sooner, later]


def test_a_manager_sees_every_task_of_the_organization(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    mine = add_task(as_owner, org, running, 0, owner_id=org.user(Role.TA_MANAGER))
    theirs = add_task(as_owner, org, running, 1, due_at=T0 + timedelta(minutes=1))
    assert ids(listed_items(client, org, TASKS, Role.TA_MANAGER)) == [mine, theirs]
    assert ids(
        listed_items(client, org, TASKS, Role.TA_MANAGER, owner_id=str(running.owner_id))
    ) == [theirs]


def test_tasks_filter_by_status_campaign_channel_and_kind(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    other = start_campaign(client, org, PEOPLE[:1], name="Calls")
    call = add_task(as_owner, org, other, 0, channel="voice", kind="call", body="Call script")
    letter = add_task(as_owner, org, running, 0, channel="mail", kind="letter", body="Dear")
    linkedin = add_task(as_owner, org, running, 1)
    skipped = add_task(as_owner, org, running, 2, status="skipped")
    assert ids(listed_items(client, org, TASKS, Role.RECRUITER, campaign_id=other.id)) == [call]
    assert ids(listed_items(client, org, TASKS, Role.RECRUITER, channel="mail")) == [letter]
    assert ids(listed_items(client, org, TASKS, Role.RECRUITER, kind="connection_request")) == [
        linkedin
    ]
    assert ids(listed_items(client, org, TASKS, Role.RECRUITER, status="skipped")) == [skipped]


def test_tasks_page_through_in_due_order(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    ids = [add_task(as_owner, org, running, i, due_at=T0 + timedelta(minutes=i)) for i in range(4)]
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get(TASKS, params=params, headers=org.headers(Role.RECRUITER)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def test_a_cursor_not_given_out_is_refused(client: TestClient, org: Org) -> None:
    answer = client.get(TASKS, params={"cursor": "bm9wZQ"}, headers=org.headers())
    assert answer.status_code == 422
    assert answer.json()["code"] == "CURSOR_INVALID"


def test_completing_a_linkedin_task_records_the_message_once(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    answer = complete(client, org, task_id, note="Sent with a short intro")
    assert answer.status_code == 200, answer.text
    task = answer.json()
    assert (task["status"], task["note"]) == ("done", "Sent with a short intro")
    assert task["completed_by"] == str(running.owner_id)
    assert task["completed_at"] is not None
    [(event_type, provider, provider_event_id, data)] = events_of(as_owner, running.members[0])
    assert (event_type, provider, provider_event_id) == ("linkedin_sent", "task", f"task:{task_id}")
    assert data["task_id"] == task_id
    metrics = campaign_of(client, org, running)
    assert (metrics["linkedin_messages_sent"], metrics["contacts_reached"]) == (1, 1)
    assert metrics["contact_counts"]["sent"] == 1


@pytest.mark.parametrize(
    ("channel", "kind", "event_type"),
    [("voice", "call", "call_completed"), ("mail", "letter", "letter_sent")],
)
def test_a_done_call_or_letter_reaches_the_contact(
    client: TestClient,
    org: Org,
    running: RunningCampaign,
    as_owner: psycopg.Connection,
    channel: str,
    kind: str,
    event_type: str,
) -> None:
    task_id = add_task(as_owner, org, running, 0, channel=channel, kind=kind)
    assert complete(client, org, task_id).status_code == 200
    [(recorded, *_)] = events_of(as_owner, running.members[0])
    assert recorded == event_type
    metrics = campaign_of(client, org, running)
    assert (metrics["contacts_reached"], metrics["linkedin_messages_sent"]) == (1, 0)


def test_a_call_keeps_its_outcome(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0, channel="voice", kind="call")
    assert complete(client, org, task_id, outcome="voicemail").status_code == 200
    [(_, _, _, data)] = events_of(as_owner, running.members[0])
    assert (data["call_outcome"], data["source"]) == ("voicemail", "task")


def test_an_outcome_goes_with_calls_only(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    answer = complete(client, org, task_id, outcome="connected")
    assert answer.status_code == 422
    assert (answer.json()["code"], answer.json()["errors"][0]["field"]) == (
        "FIELD_NOT_ALLOWED",
        "outcome",
    )
    bogus = add_task(as_owner, org, running, 1, channel="voice", kind="call")
    assert complete(client, org, bogus, outcome="busy").json()["code"] == "VALUE_NOT_ALLOWED"


def test_only_an_open_task_can_be_completed(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    assert complete(client, org, task_id).status_code == 200
    again = complete(client, org, task_id)
    assert (again.status_code, again.json()["code"]) == (409, "TASK_NOT_OPEN")
    assert len(events_of(as_owner, running.members[0])) == 1
    cancelled = add_task(as_owner, org, running, 1, status="cancelled")
    assert complete(client, org, cancelled).json()["code"] == "TASK_NOT_OPEN"
    skip = client.post(f"{TASKS}/{task_id}/skip", headers=org.headers(Role.RECRUITER))
    assert skip.json()["code"] == "TASK_NOT_OPEN"


def test_a_task_of_a_campaign_that_is_not_running_cannot_be_completed(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    paused = client.post(f"/api/v1/campaigns/{running.id}/pause", headers=org.headers())
    assert paused.status_code == 200
    done_while_paused = add_task(as_owner, org, running, 1)
    assert complete(client, org, done_while_paused).status_code == 200
    assert client.post(f"/api/v1/campaigns/{running.id}/complete", headers=org.headers()).is_success
    cancelled = complete(client, org, task_id)  # completion cancelled the open task
    assert (cancelled.status_code, cancelled.json()["code"]) == (409, "TASK_NOT_OPEN")
    late = add_task(as_owner, org, running, 2)
    answer = complete(client, org, late)
    assert (answer.status_code, answer.json()["code"]) == (409, "CAMPAIGN_NOT_ACTIVE")
    assert events_of(as_owner, running.members[0]) == []


def test_skipping_a_task_records_nothing(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    answer = client.post(
        f"{TASKS}/{task_id}/skip",
        json={"reason": "Not on LinkedIn"},
        headers=org.headers(Role.RECRUITER),
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["note"]) == ("skipped", "Not on LinkedIn")
    assert events_of(as_owner, running.members[0]) == []
    assert campaign_of(client, org, running)["contacts_reached"] == 0


def test_a_stopped_campaigns_task_can_still_be_skipped(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    assert client.post(f"/api/v1/campaigns/{running.id}/complete", headers=org.headers()).is_success
    task_id = add_task(as_owner, org, running, 0)  # one left open after the completion
    skip = client.post(f"{TASKS}/{task_id}/skip", headers=org.headers(Role.RECRUITER))
    assert skip.status_code == 200


def test_only_the_owner_or_a_manager_may_close_a_task(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    stranger = org.headers(Role.RECRUITER, user_id=org.user(Role.VIEWER))
    for action in ("complete", "skip"):
        assert client.post(f"{TASKS}/{task_id}/{action}", headers=stranger).status_code == 403
    viewer = client.post(f"{TASKS}/{task_id}/complete", headers=org.headers(Role.VIEWER))
    assert viewer.status_code == 403
    answer = complete(client, org, task_id, role=Role.TA_MANAGER)
    assert answer.status_code == 200
    assert answer.json()["completed_by"] == str(org.user(Role.TA_MANAGER))


def test_a_deleted_campaigns_tasks_are_gone(
    client: TestClient, org: Org, running: RunningCampaign, as_owner: psycopg.Connection
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    assert client.delete(f"/api/v1/campaigns/{running.id}", headers=org.headers()).is_success
    assert ids(listed_items(client, org, TASKS, Role.RECRUITER)) == []
    assert client.get(f"{TASKS}/{task_id}", headers=org.headers()).status_code == 404


def test_another_organizations_task_is_not_found(
    client: TestClient,
    org: Org,
    other_org: Org,
    running: RunningCampaign,
    as_owner: psycopg.Connection,
) -> None:
    task_id = add_task(as_owner, org, running, 0)
    headers = other_org.headers()
    assert client.get(f"{TASKS}/{task_id}", headers=headers).status_code == 404
    assert client.post(f"{TASKS}/{task_id}/complete", headers=headers).status_code == 404
    assert client.post(f"{TASKS}/{task_id}/skip", headers=headers).status_code == 404
    assert client.get(TASKS, headers=other_org.headers()).json()["items"] == []
    assert (
        client.get(TASKS, params={"owner_id": str(running.owner_id)}, headers=headers).json()[
            "items"
        ]
        == []
    )


def test_tasks_need_a_token(client: TestClient) -> None:
    assert client.get(TASKS).status_code == 401
    some_id = "2b1d0f9e-1c0a-4c6e-9d9a-0f1e2d3c4b5a"
    assert client.post(f"{TASKS}/{some_id}/complete").status_code == 401
