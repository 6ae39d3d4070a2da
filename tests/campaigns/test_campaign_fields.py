"""Creating and editing campaigns: every field rule of the spec, with its error code."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, create_campaign, create_template, post

TODAY = datetime.now(UTC).date()


CAMPAIGNS = "/api/v1/campaigns"


def problem_code(answer: Any) -> str:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return str(answer.json()["code"])


def test_a_new_campaign_is_a_draft_with_the_spec_defaults(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    assert campaign["status"] == "draft"
    assert campaign["owner_id"] == str(org.user(Role.ADMIN))
    assert campaign["created_by"] == str(org.user(Role.ADMIN))
    assert campaign["campaign_type"] == "talent_sourcing"
    assert campaign["permission_mode"] == "co_pilot"
    assert campaign["ab_split_percentage"] == 50
    assert campaign["daily_lead_limit"] == 50
    assert campaign["email_allocation"] == 100
    assert campaign["contact_counts"]["pending"] == 0
    assert campaign["response_rate_band"] is None


@pytest.mark.parametrize("name", [None, "", "   "])
def test_campaign_name_is_required(client: TestClient, org: Org, name: str | None) -> None:
    body = {} if name is None else {"name": name}
    answer = post(client, org, CAMPAIGNS, body)
    assert answer.status_code == 422
    assert problem_code(answer) == "CAMPAIGN_NAME_REQUIRED"
    assert answer.json()["title"] == "Campaign name is required"
    assert answer.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize("name", ["ab", "x" * 201])
def test_campaign_name_must_be_3_to_200_characters(client: TestClient, org: Org, name: str) -> None:
    assert problem_code(post(client, org, CAMPAIGNS, {"name": name})) == "CAMPAIGN_NAME_LENGTH"


def test_campaign_name_may_hold_any_printable_unicode_and_is_trimmed(
    client: TestClient, org: Org
) -> None:
    campaign = create_campaign(client, org, name="  Développeurs Java – Paris 🚀 ")
    assert campaign["name"] == "Développeurs Java – Paris 🚀"


@pytest.mark.parametrize("name", ["Java\ndevelopers", "Java\x00developers", "Java\u202edevs"])
def test_campaign_name_with_control_characters_is_refused(
    client: TestClient, org: Org, name: str
) -> None:
    assert problem_code(post(client, org, CAMPAIGNS, {"name": name})) == "CAMPAIGN_NAME_INVALID"


def test_unknown_fields_are_refused(client: TestClient, org: Org) -> None:
    answer = post(client, org, CAMPAIGNS, {"name": "Java developers", "org_id": str(org.id)})
    assert answer.status_code == 422
    assert problem_code(answer) == "FIELD_UNKNOWN"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("campaign_type", "recruiting"),
        ("channel", "fax"),
        ("permission_mode", "yolo"),
        ("target_company_sizes", ["2-9"]),
        ("ab_split_percentage", 9),
        ("ab_split_percentage", 91),
        ("target_contacts_count", 0),
        ("target_contacts_count", 100_001),
        ("target_response_rate", 100.01),
        ("target_response_rate", 12.345),
        ("target_conversion_count", 10_001),
        ("description", "x" * 5001),
        ("target_audience", "x" * 501),
        ("target_skills", [f"skill {i}" for i in range(31)]),
        ("target_skills", ["x" * 51]),
        ("target_locations", [f"city {i}" for i in range(51)]),
        ("target_locations", ["x" * 101]),
        ("daily_lead_limit", 0),
    ],
)
def test_field_limits_of_the_spec_are_enforced(
    client: TestClient, org: Org, field: str, value: Any
) -> None:
    answer = post(client, org, CAMPAIGNS, {"name": "Java developers", field: value})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"].startswith(field)


def test_several_invalid_fields_are_reported_together(client: TestClient, org: Org) -> None:
    answer = post(client, org, CAMPAIGNS, {"name": "", "channel": "fax"})
    assert problem_code(answer) == "VALIDATION_ERROR"
    assert {e["field"] for e in answer.json()["errors"]} == {"name", "channel"}


def test_a_combined_campaign_gets_the_client_spec_allocation(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org, channel="combined")
    allocation = [
        campaign[f"{c}_allocation"] for c in ("email", "linkedin", "voice", "sms", "mail")
    ]
    assert allocation == [40, 30, 20, 5, 5]


def test_channel_allocations_must_add_up_to_100(client: TestClient, org: Org) -> None:
    body = {"name": "Multichannel", "channel": "combined", "email_allocation": 50}
    assert problem_code(post(client, org, CAMPAIGNS, body)) == "CAMPAIGN_ALLOCATION_INVALID"


def test_an_email_campaign_allocates_everything_to_email(client: TestClient, org: Org) -> None:
    body = {"name": "Email only", "email_allocation": 60, "linkedin_allocation": 40}
    assert problem_code(post(client, org, CAMPAIGNS, body)) == "CAMPAIGN_ALLOCATION_INVALID"


def test_end_date_must_be_after_start_date(client: TestClient, org: Org) -> None:
    start = TODAY + timedelta(days=5)
    body = {"name": "Dated", "start_date": str(start), "end_date": str(start)}
    answer = post(client, org, CAMPAIGNS, body)
    assert problem_code(answer) == "CAMPAIGN_INVALID_DATES"
    assert answer.json()["title"] == "End date must be after start date"


def test_start_date_cannot_be_in_the_past(client: TestClient, org: Org) -> None:
    body = {"name": "Late", "start_date": str(TODAY - timedelta(days=1))}
    assert problem_code(post(client, org, CAMPAIGNS, body)) == "CAMPAIGN_START_DATE_IN_PAST"


def test_ab_variants_must_use_different_templates(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    body = {
        "name": "A/B",
        "is_ab_test": True,
        "variant_a_template_id": template["id"],
        "variant_b_template_id": template["id"],
    }
    assert problem_code(post(client, org, CAMPAIGNS, body)) == "CAMPAIGN_AB_SAME_TEMPLATES"


def test_a_template_must_suit_the_campaign_channel(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    body = {"name": "LinkedIn", "channel": "linkedin", "template_id": template["id"]}
    assert problem_code(post(client, org, CAMPAIGNS, body)) == "TEMPLATE_CHANNEL_MISMATCH"


def test_another_organizations_template_cannot_be_used(
    client: TestClient, org: Org, other_org: Org
) -> None:
    template = create_template(client, other_org)
    answer = post(client, org, CAMPAIGNS, {"name": "Borrowed", "template_id": template["id"]})
    assert problem_code(answer) == "TEMPLATE_NOT_FOUND"


def test_a_viewer_cannot_create_campaigns(client: TestClient, org: Org) -> None:
    answer = post(client, org, CAMPAIGNS, {"name": "Java developers"}, role=Role.VIEWER)
    assert answer.status_code == 403
    assert problem_code(answer) == "FORBIDDEN"


def test_a_recruiter_cannot_create_a_campaign_for_someone_else(
    client: TestClient, org: Org
) -> None:
    create_campaign(client, org)  # the admin exists now
    body = {"name": "Not mine", "owner_id": str(org.user(Role.ADMIN))}
    assert post(client, org, CAMPAIGNS, body, role=Role.RECRUITER).status_code == 403


def test_a_manager_may_create_a_campaign_for_a_user_of_the_org(
    client: TestClient, org: Org
) -> None:
    create_campaign(client, org, role=Role.RECRUITER)
    recruiter = str(org.user(Role.RECRUITER))
    campaign = create_campaign(client, org, role=Role.TA_MANAGER, owner_id=recruiter)
    assert campaign["owner_id"] == recruiter


def test_the_owner_must_be_a_user_of_the_org(client: TestClient, org: Org, other_org: Org) -> None:
    create_campaign(client, other_org)
    stranger = str(other_org.user(Role.ADMIN))
    answer = post(client, org, CAMPAIGNS, {"name": "Java developers", "owner_id": stranger})
    assert problem_code(answer) == "OWNER_NOT_FOUND"


def test_a_draft_can_change_every_field_and_null_clears_optional_ones(
    client: TestClient, org: Org
) -> None:
    campaign = create_campaign(client, org, description="Senior Java", target_skills=["Java"])
    answer = client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"channel": "combined", "description": None, "target_skills": None, "name": "New"},
        headers=org.headers(),
    )
    assert answer.status_code == 200, answer.text
    edited = answer.json()
    assert edited["channel"] == "combined"
    assert edited["linkedin_allocation"] == 30  # the channel's default split came with it
    assert edited["description"] is None
    assert edited["target_skills"] == []
    assert edited["name"] == "New"


@pytest.mark.parametrize(
    ("field", "code"), [("name", "CAMPAIGN_NAME_REQUIRED"), ("channel", "FIELD_REQUIRED")]
)
def test_a_required_field_cannot_be_cleared(
    client: TestClient, org: Org, field: str, code: str
) -> None:
    campaign = create_campaign(client, org)
    answer = client.patch(
        f"/api/v1/campaigns/{campaign['id']}", json={field: None}, headers=org.headers()
    )
    assert answer.status_code == 422
    assert problem_code(answer) == code


def test_a_recruiter_changes_only_the_campaigns_it_owns(client: TestClient, org: Org) -> None:
    theirs = create_campaign(client, org)
    mine = create_campaign(client, org, role=Role.RECRUITER)
    recruiter = org.headers(Role.RECRUITER)
    denied = client.patch(
        f"/api/v1/campaigns/{theirs['id']}", json={"name": "Mine"}, headers=recruiter
    )
    assert denied.status_code == 403
    allowed = client.patch(
        f"/api/v1/campaigns/{mine['id']}", json={"name": "Mine"}, headers=recruiter
    )
    assert allowed.status_code == 200


def test_a_viewer_cannot_edit(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    answer = client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"name": "X" * 5},
        headers=org.headers(Role.VIEWER),
    )
    assert answer.status_code == 403
