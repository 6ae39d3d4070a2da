"""Adding contacts to a campaign: one result per row, every row rule, duplicates, suppressions,
the person's upsert, A/B balance and idempotency."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    Org,
    create_ab_campaign,
    create_campaign,
    create_template,
    post_contacts,
)

LEAD = "7d1c1f0e-5a8c-4f5e-9b1e-0c2a3b4d5e6f"


def only_result(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    return dict(result)


def members(client: TestClient, org: Org, campaign_id: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(
        f"/api/v1/campaigns/{campaign_id}/contacts",
        params={"limit": 200, **params},
        headers=org.headers(),
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def assert_invalid(answer: Any, code: str, field: str) -> None:
    result = only_result(answer)
    assert (result["status"], result["code"]) == ("invalid", code), result
    assert result["errors"][0]["field"] == field
    assert answer.json()["summary"] == {"created": 0, "skipped": 0, "invalid": 1}


def test_rows_are_added_and_answered_in_order(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = post_contacts(
        client,
        org,
        campaign["id"],
        [
            {"email": "ada@example.com", "first_name": "Ada"},
            {"email": "not-an-email"},
            {"email": "grace@example.com", "tags": ["java", "java"], "custom_fields": {"a": 1}},
        ],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["summary"] == {"created": 2, "skipped": 0, "invalid": 1}
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert [r["status"] for r in body["results"]] == ["created", "invalid", "created"]
    listed = {m["id"]: m for m in members(client, org, campaign["id"])}
    grace = listed[body["results"][2]["campaign_contact_id"]]
    assert grace["contact"]["id"] == body["results"][2]["contact_id"]
    assert grace["status"] == "pending"
    assert grace["contact_type"] == "candidate"
    assert grace["ab_variant"] is None
    assert grace["contact"]["tags"] == ["java"]
    assert grace["contact"]["custom_fields"] == {"a": 1}


def test_row_needs_an_email_or_a_lead_id(client: TestClient, org: Org) -> None:
    linkedin = create_campaign(client, org, channel="linkedin")
    answer = post_contacts(
        client, org, linkedin["id"], [{"linkedin_url": "https://www.linkedin.com/in/ada"}]
    )
    assert_invalid(answer, "CONTACT_EMAIL_REQUIRED", "email")


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "a b@example.com"])
def test_email_must_be_a_valid_address(
    client: TestClient, org: Org, campaign: dict[str, Any], email: str
) -> None:
    assert_invalid(
        post_contacts(client, org, campaign["id"], [{"email": email}]),
        "CONTACT_EMAIL_INVALID",
        "email",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/company/acme",
        "https://linkedin.com.evil.example/in/ada",
        "ftp://linkedin.com/in/ada",
        "https://www.linkedin.com/in/ada_lovelace",
        "https://www.linkedin.com/in/",
    ],
)
def test_linkedin_url_must_be_a_profile_url(
    client: TestClient, org: Org, campaign: dict[str, Any], url: str
) -> None:
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "ada@example.com", "linkedin_url": url}]
    )
    assert_invalid(answer, "CONTACT_LINKEDIN_URL_INVALID", "linkedin_url")


@pytest.mark.parametrize(
    "url", ["https://www.linkedin.com/in/ada-lovelace/", "http://linkedin.com/in/Ada42"]
)
def test_linkedin_profile_urls_are_accepted(
    client: TestClient, org: Org, campaign: dict[str, Any], url: str
) -> None:
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "ada@example.com", "linkedin_url": url}]
    )
    assert only_result(answer)["status"] == "created"


def test_email_campaign_needs_an_email(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = post_contacts(
        client,
        org,
        campaign["id"],
        [{"lead_id": LEAD, "linkedin_url": "https://linkedin.com/in/a"}],
    )
    assert_invalid(answer, "CONTACT_EMAIL_REQUIRED", "email")


def test_linkedin_campaign_needs_a_linkedin_url(client: TestClient, org: Org) -> None:
    linkedin = create_campaign(client, org, channel="linkedin")
    answer = post_contacts(client, org, linkedin["id"], [{"email": "ada@example.com"}])
    assert_invalid(answer, "CONTACT_LINKEDIN_URL_REQUIRED", "linkedin_url")


def test_combined_campaign_needs_an_email_or_a_linkedin_url(client: TestClient, org: Org) -> None:
    combined = create_campaign(client, org, channel="combined")
    answer = post_contacts(
        client,
        org,
        combined["id"],
        [
            {"lead_id": LEAD},
            {"email": "ada@example.com"},
            {"lead_id": LEAD, "linkedin_url": "https://linkedin.com/in/grace"},
        ],
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("invalid", "CONTACT_EMAIL_REQUIRED"),
        ("created", None),
        ("created", None),
    ]


def test_unknown_contact_type_is_invalid(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "ada@example.com", "contact_type": "investor"}]
    )
    assert_invalid(answer, "CONTACT_TYPE_INVALID", "contact_type")


@pytest.mark.parametrize(
    ("campaign_type", "contact_type", "accepted"),
    [
        ("talent_sourcing", "candidate", True),
        ("talent_sourcing", "referral", True),
        ("talent_sourcing", "hiring_manager", False),
        ("talent_sourcing", "decision_maker", False),
        ("business_development", "hiring_manager", True),
        ("business_development", "decision_maker", True),
        ("business_development", "referral", True),
        ("business_development", "candidate", False),
        ("mixed", "candidate", True),
        ("mixed", "hiring_manager", True),
        ("mixed", "decision_maker", True),
        ("mixed", "referral", True),
    ],
)
def test_contact_type_must_fit_the_campaign_type(
    client: TestClient,
    org: Org,
    campaign_type: str,
    contact_type: str,
    accepted: bool,
) -> None:
    typed = create_campaign(client, org, campaign_type=campaign_type)
    result = only_result(
        post_contacts(
            client, org, typed["id"], [{"email": "ada@example.com", "contact_type": contact_type}]
        )
    )
    if accepted:
        assert result["status"] == "created"
    else:
        assert (result["status"], result["code"]) == ("invalid", "CONTACT_TYPE_MISMATCH")


@pytest.mark.parametrize(
    ("campaign_type", "default"),
    [
        ("talent_sourcing", "candidate"),
        ("business_development", "hiring_manager"),
        ("mixed", "candidate"),
    ],
)
def test_contact_type_defaults_to_the_campaign_types_own(
    client: TestClient, org: Org, campaign_type: str, default: str
) -> None:
    typed = create_campaign(client, org, campaign_type=campaign_type)
    assert (
        only_result(post_contacts(client, org, typed["id"], [{"email": "ada@example.com"}]))[
            "status"
        ]
        == "created"
    )
    (member,) = members(client, org, typed["id"])
    assert member["contact_type"] == default


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "europe/paris", "../etc/passwd", ""])
def test_timezone_must_be_an_iana_name(
    client: TestClient, org: Org, campaign: dict[str, Any], timezone: str
) -> None:
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "ada@example.com", "timezone": timezone}]
    )
    assert_invalid(answer, "CONTACT_TIMEZONE_INVALID", "timezone")


INJECTION = "P\nBcc: x@evil.example"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"first_name": INJECTION}, "first_name"),
        ({"last_name": "Lovelace\r"}, "last_name"),
        ({"company_name": "Acme\u2028Corp"}, "company_name"),
        ({"title": "CTO\u2029"}, "title"),
        ({"phone": "+1 555 0100\u0085"}, "phone"),
        ({"first_name": "Ada\t"}, "first_name"),
        ({"first_name": "Ada\u007f"}, "first_name"),
        ({"first_name": "Ada\u009b"}, "first_name"),
        ({"first_name": "Ada\u0000"}, "first_name"),
        ({"linkedin_url": "https://www.linkedin.com/in/ada\n"}, "linkedin_url"),
        ({"timezone": "Europe/Paris\n"}, "timezone"),
        ({"email": "ada@example.com\r\nBcc: x@evil.example"}, "email"),
        ({"tags": ["java", "go\nBcc"]}, "tags.1"),
        ({"custom_fields": {"team": "core\r\nBcc: x@evil.example"}}, "custom_fields.team"),
        ({"custom_fields": {"teams": [{"name": "core\n"}]}}, "custom_fields.teams"),
    ],
)
def test_control_characters_in_a_persons_text_make_its_row_invalid(
    client: TestClient, org: Org, campaign: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    answer = post_contacts(client, org, campaign["id"], [{"email": "ada@example.com", **fields}])
    assert_invalid(answer, "TEXT_CONTROL_CHARACTERS", field)
    assert "control characters" in only_result(answer)["message"]


def test_a_row_with_control_characters_fails_alone(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    rows = [
        {"email": "ada@example.com", "first_name": "Ada"},
        {"email": "eve@example.com", "first_name": INJECTION},
        {
            "email": "zoe@example.com",
            "first_name": "Zoë",
            "last_name": "Ñúñez 山田",
            "title": "A, B",
        },
    ]
    answer = post_contacts(client, org, campaign["id"], rows)
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"] == {"created": 2, "skipped": 0, "invalid": 1}
    bad = answer.json()["results"][1]
    assert (bad["status"], bad["code"]) == ("invalid", "TEXT_CONTROL_CHARACTERS")
    assert bad["errors"] == [
        {
            "field": "first_name",
            "code": "TEXT_CONTROL_CHARACTERS",
            "message": "Line breaks and other control characters are not allowed here "
            "(found U+000A)",
        }
    ]
    added = {m["contact"]["email"] for m in members(client, org, campaign["id"])}
    assert added == {"ada@example.com", "zoe@example.com"}


def test_unknown_field_makes_only_its_row_invalid(
    client: TestClient, campaign: dict[str, Any], org: Org
) -> None:
    answer = post_contacts(
        client,
        org,
        campaign["id"],
        [{"email": "ada@example.com", "status": "sent"}, {"email": "grace@example.com"}, "x"],
    )
    assert answer.status_code == 200, answer.text
    first, second, third = answer.json()["results"]
    assert (first["status"], first["code"], first["errors"][0]["field"]) == (
        "invalid",
        "FIELD_UNKNOWN",
        "status",
    )
    assert second["status"] == "created"
    assert third["status"] == "invalid"
    assert [m["contact"]["email"] for m in members(client, org, campaign["id"])] == [
        "grace@example.com"
    ]


def test_a_row_with_several_problems_reports_each(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    result = only_result(
        post_contacts(client, org, campaign["id"], [{"email": "x", "timezone": "Nowhere/Land"}])
    )
    assert {e["code"] for e in result["errors"]} == {
        "CONTACT_EMAIL_INVALID",
        "CONTACT_TIMEZONE_INVALID",
    }


def test_a_batch_of_1000_contacts_is_added(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    rows = [
        {
            "email": f"person{i}@example.com",
            "first_name": f"Person{i}",
            "company_name": "Acme",
            "tags": ["java"],
            "custom_fields": {"rank": i},
            "timezone": "Europe/Paris",
        }
        for i in range(1000)
    ]
    answer = post_contacts(client, org, campaign["id"], rows)
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"] == {"created": 1000, "skipped": 0, "invalid": 0}
    listed = client.get(f"/api/v1/campaigns/{campaign['id']}", headers=org.headers()).json()
    assert listed["total_contacts"] == 1000


def test_more_than_1000_contacts_in_one_call_are_refused(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = post_contacts(
        client, org, campaign["id"], [{"email": f"p{i}@example.com"} for i in range(1001)]
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "CONTACTS_BATCH_TOO_LARGE"
    assert members(client, org, campaign["id"]) == []


def test_an_empty_batch_is_refused(client: TestClient, org: Org, campaign: dict[str, Any]) -> None:
    answer = post_contacts(client, org, campaign["id"], [])
    assert answer.status_code == 422
    assert answer.json()["code"] == "CONTACTS_BATCH_EMPTY"


def test_the_same_person_twice_in_a_batch_is_a_duplicate(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "ada@example.com"}, {"email": "ADA@Example.com"}]
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    assert first["status"] == "created"
    assert (second["status"], second["code"]) == ("skipped", "CONTACT_DUPLICATE")
    assert second["campaign_contact_id"] == first["campaign_contact_id"]
    assert answer.json()["summary"] == {"created": 1, "skipped": 1, "invalid": 0}


def test_a_person_already_in_the_campaign_is_a_duplicate(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    first = only_result(post_contacts(client, org, campaign["id"], [{"email": "ada@example.com"}]))
    again = only_result(post_contacts(client, org, campaign["id"], [{"email": "Ada@example.com"}]))
    assert (again["status"], again["code"]) == ("skipped", "CONTACT_DUPLICATE")
    assert again["campaign_contact_id"] == first["campaign_contact_id"]
    assert again["contact_id"] == first["contact_id"]


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("hard_bounce", "CONTACT_BOUNCED"),
        ("unsubscribed", "CONTACT_UNSUBSCRIBED"),
        ("complaint", "CONTACT_UNSUBSCRIBED"),
        ("manual", "CONTACT_UNSUBSCRIBED"),
    ],
)
def test_a_suppressed_email_is_skipped_with_its_reasons_code(
    client: TestClient, org: Org, campaign: dict[str, Any], reason: str, code: str
) -> None:
    suppressed = client.post(
        "/api/v1/suppressions",
        json={"email": "ada@example.com", "reason": reason},
        headers=org.headers(),
    )
    assert suppressed.status_code == 201, suppressed.text
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "Ada@Example.com"}, {"email": "grace@example.com"}]
    )
    assert answer.status_code == 200, answer.text
    skipped, created = answer.json()["results"]
    assert (skipped["status"], skipped["code"]) == ("skipped", code)
    assert created["status"] == "created"
    assert [m["contact"]["email"] for m in members(client, org, campaign["id"])] == [
        "grace@example.com"
    ]


def test_the_same_email_in_another_case_updates_the_person(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    first = only_result(
        post_contacts(
            client,
            org,
            campaign["id"],
            [
                {
                    "email": "Ada@Example.com",
                    "first_name": "Ada",
                    "title": "Engineer",
                    "tags": ["java", "paris"],
                    "custom_fields": {"source": "fair", "level": 1},
                }
            ],
        )
    )
    other = create_campaign(client, org, name="Second campaign")
    second = only_result(
        post_contacts(
            client,
            org,
            other["id"],
            [
                {
                    "email": "ada@example.com",
                    "last_name": "Lovelace",
                    "title": "Staff engineer",
                    "tags": ["paris", "kotlin"],
                    "custom_fields": {"level": 2},
                }
            ],
        )
    )
    assert second["status"] == "created"
    assert second["contact_id"] == first["contact_id"]
    (member,) = members(client, org, campaign["id"])
    person = member["contact"]
    assert person["email"] == "ada@example.com"
    assert (person["first_name"], person["last_name"], person["title"]) == (
        "Ada",
        "Lovelace",
        "Staff engineer",
    )
    assert person["tags"] == ["java", "paris", "kotlin"]
    assert person["custom_fields"] == {"source": "fair", "level": 2}


def test_a_person_without_email_is_known_by_lead_id(client: TestClient, org: Org) -> None:
    row = {"lead_id": LEAD, "linkedin_url": "https://linkedin.com/in/ada"}
    first = only_result(
        post_contacts(client, org, create_campaign(client, org, channel="linkedin")["id"], [row])
    )
    second = only_result(
        post_contacts(
            client,
            org,
            create_campaign(client, org, channel="linkedin")["id"],
            [row | {"title": "CTO"}],
        )
    )
    assert (first["status"], second["status"]) == ("created", "created")
    assert second["contact_id"] == first["contact_id"]


def test_contacts_are_added_to_scheduled_active_and_paused_campaigns(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    url = f"/api/v1/campaigns/{campaign['id']}"
    post_contacts(client, org, campaign["id"], [{"email": "first@example.com"}])
    for action, n in (("activate", 1), ("pause", 2)):
        assert client.post(f"{url}/{action}", headers=org.headers()).status_code == 200
        assert only_result(
            post_contacts(client, org, campaign["id"], [{"email": f"p{n}@example.com"}])
        )["status"] == ("created")


def test_a_completed_campaign_is_read_only(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    url = f"/api/v1/campaigns/{campaign['id']}"
    post_contacts(client, org, campaign["id"], [{"email": "first@example.com"}])
    for action in ("activate", "complete"):
        assert client.post(f"{url}/{action}", headers=org.headers()).status_code == 200
    answer = post_contacts(client, org, campaign["id"], [{"email": "late@example.com"}])
    assert answer.status_code == 409
    assert answer.json()["code"] == "CAMPAIGN_READ_ONLY"


def test_ab_split_stays_exact_over_several_batches(client: TestClient, org: Org) -> None:
    campaign = create_ab_campaign(client, org, 70)
    total = 0
    for size in (37, 63, 1, 99):
        rows = [{"email": f"p{total + i}@example.com"} for i in range(size)]
        assert post_contacts(client, org, campaign["id"], rows).json()["summary"]["created"] == size
        total += size
        listed = members(client, org, campaign["id"])
        variants = [m["ab_variant"] for m in listed]
        assert variants.count("A") == round(total * 0.7), total
        assert variants.count("B") == total - round(total * 0.7)
    assert total == 200
    assert len(members(client, org, campaign["id"], ab_variant="A")) == 140


def test_members_without_a_variant_get_one_when_the_campaign_becomes_an_ab_test(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    post_contacts(client, org, campaign["id"], [{"email": f"p{i}@example.com"} for i in range(9)])
    templates = [create_template(client, org, name=name)["id"] for name in ("A", "B")]
    changed = client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={
            "is_ab_test": True,
            "variant_a_template_id": templates[0],
            "variant_b_template_id": templates[1],
            "ab_split_percentage": 30,
        },
        headers=org.headers(),
    )
    assert changed.status_code == 200, changed.text
    post_contacts(client, org, campaign["id"], [{"email": "last@example.com"}])
    variants = [m["ab_variant"] for m in members(client, org, campaign["id"])]
    assert (variants.count("A"), variants.count("B")) == (3, 7)


def test_no_variant_outside_an_ab_test(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    post_contacts(client, org, campaign["id"], [{"email": f"p{i}@example.com"} for i in range(10)])
    assert {m["ab_variant"] for m in members(client, org, campaign["id"])} == {None}


def test_an_idempotent_replay_returns_the_first_answer_and_adds_nothing(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    rows = [{"email": "ada@example.com"}, {"email": "grace@example.com"}]
    first = post_contacts(client, org, campaign["id"], rows, headers=key)
    replay = post_contacts(client, org, campaign["id"], rows, headers=key)
    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert first.json()["summary"]["created"] == 2
    assert len(members(client, org, campaign["id"])) == 2
    other_body = post_contacts(client, org, campaign["id"], rows[:1], headers=key)
    assert other_body.status_code == 422
    assert other_body.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
