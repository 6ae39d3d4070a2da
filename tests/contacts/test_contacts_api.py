"""A campaign's contacts one by one: list with filters and pages, read, edit, remove; tenancy
and roles on every route."""

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, create_ab_campaign, create_campaign, listed, patch, post_contacts

PEOPLE = [
    {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    {"email": "grace@navy.example.com", "first_name": "Grace", "company_name": "US Navy"},
    {"email": "alan@example.com", "last_name": "Turing", "contact_type": "referral"},
]


def url(campaign: dict[str, Any], member_id: str = "") -> str:
    return f"/api/v1/campaigns/{campaign['id']}/contacts" + (f"/{member_id}" if member_id else "")


def add(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    rows: list[Any],
    role: Role = Role.ADMIN,
) -> list[str]:
    """The membership ids of the rows, all of which must be created."""
    answer = post_contacts(client, org, campaign["id"], rows, role)
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["created"] == len(rows), answer.text
    return [r["campaign_contact_id"] for r in answer.json()["results"]]


def emails(page: Any) -> set[str]:
    return {item["contact"]["email"] for item in page["items"]}


@pytest.fixture
def ids(client: TestClient, org: Org, campaign: dict[str, Any]) -> list[str]:
    return add(client, org, campaign, PEOPLE)


def test_list_shows_each_membership_with_its_person(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    page = listed(client, org, url(campaign))
    assert page["next_cursor"] is None
    assert [item["id"] for item in page["items"]] == sorted(ids, reverse=True)
    ada = next(i for i in page["items"] if i["contact"]["email"] == "ada@example.com")
    assert ada["campaign_id"] == campaign["id"]
    assert (ada["status"], ada["contact_type"], ada["sent_at"]) == ("pending", "candidate", None)
    assert ada["contact"]["first_name"] == "Ada"
    assert set(ada["contact"]) >= {"id", "lead_id", "tags", "score", "custom_fields"}


def test_list_filters_by_status_repeatable(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    ids: list[str],
    as_owner: psycopg.Connection,
) -> None:
    as_owner.execute("UPDATE campaign_contacts SET status = 'sent' WHERE id = %s", (ids[0],))
    as_owner.execute("UPDATE campaign_contacts SET status = 'bounced' WHERE id = %s", (ids[1],))
    assert emails(listed(client, org, url(campaign), status="sent")) == {"ada@example.com"}
    both = listed(client, org, url(campaign), status=["sent", "bounced"])
    assert emails(both) == {"ada@example.com", "grace@navy.example.com"}
    assert listed(client, org, url(campaign), status="pending")["items"][0]["id"] == ids[2]


def test_list_filters_by_contact_type(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    assert emails(listed(client, org, url(campaign), contact_type="referral")) == {
        "alan@example.com"
    }


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("ADA@", {"ada@example.com"}),
        ("grac", {"grace@navy.example.com"}),
        ("turing", {"alan@example.com"}),
        ("navy", {"grace@navy.example.com"}),
        ("example.com", {"ada@example.com", "grace@navy.example.com", "alan@example.com"}),
        ("%", set()),
    ],
)
def test_q_searches_email_names_and_company_in_any_case(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    ids: list[str],
    q: str,
    found: set[str],
) -> None:
    assert emails(listed(client, org, url(campaign), q=q)) == found


def test_list_filters_by_ab_variant(client: TestClient, org: Org) -> None:
    campaign = create_ab_campaign(client, org, 50)
    add(client, org, campaign, [{"email": f"p{i}@example.com"} for i in range(10)])
    variant_a = listed(client, org, url(campaign), ab_variant="A")["items"]
    assert len(variant_a) == 5
    assert {item["ab_variant"] for item in variant_a} == {"A"}


def test_list_pages_through_every_contact_once(
    client: TestClient, org: Org, campaign: dict[str, Any]
) -> None:
    add(client, org, campaign, [{"email": f"p{i}@example.com"} for i in range(7)])
    seen: list[str] = []
    cursor = None
    while True:
        page = listed(client, org, url(campaign), limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7
    assert seen == sorted(seen, reverse=True)  # one statement: same created_at, then id desc


@pytest.mark.parametrize("cursor", ["garbage", "WyJub3QtYS1kYXRlIiwieCJd"])
def test_a_cursor_not_given_out_is_refused(
    client: TestClient, org: Org, campaign: dict[str, Any], cursor: str
) -> None:
    answer = client.get(url(campaign), params={"cursor": cursor}, headers=org.headers())
    assert answer.status_code == 422
    assert answer.json()["code"] == "CURSOR_INVALID"


def test_get_one_contact(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answer = client.get(url(campaign, ids[0]), headers=org.headers(Role.VIEWER))
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact"]["email"] == "ada@example.com"


def test_patch_edits_the_contact_type_and_the_person(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answer = patch(
        client,
        org,
        url(campaign, ids[0]),
        {
            "contact_type": "referral",
            "contact": {
                "title": "Analyst",
                "timezone": "Europe/London",
                "lead_tier": "hot",
                "tags": ["math"],
                "last_name": None,
            },
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["contact_type"] == "referral"
    person = body["contact"]
    assert (person["title"], person["timezone"], person["lead_tier"]) == (
        "Analyst",
        "Europe/London",
        "hot",
    )
    assert (person["first_name"], person["last_name"], person["tags"]) == ("Ada", None, ["math"])
    assert client.get(url(campaign, ids[0]), headers=org.headers()).json() == body


def test_patch_contact_type_must_fit_the_campaign_type(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answer = patch(client, org, url(campaign, ids[0]), {"contact_type": "decision_maker"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "CONTACT_TYPE_MISMATCH"
    invalid = patch(client, org, url(campaign, ids[0]), {"contact_type": "investor"})
    assert invalid.json()["code"] == "CONTACT_TYPE_INVALID"


@pytest.mark.parametrize(
    ("person", "code", "field"),
    [
        ({"email": "nope"}, "CONTACT_EMAIL_INVALID", "contact.email"),
        ({"email": None}, "CONTACT_EMAIL_REQUIRED", "contact.email"),
        (
            {"linkedin_url": "https://x.com/ada"},
            "CONTACT_LINKEDIN_URL_INVALID",
            "contact.linkedin_url",
        ),
        ({"timezone": "Moon/Base"}, "CONTACT_TIMEZONE_INVALID", "contact.timezone"),
        ({"score": 99}, "FIELD_UNKNOWN", "contact.score"),
    ],
)
def test_patch_checks_the_persons_fields(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    ids: list[str],
    person: dict[str, Any],
    code: str,
    field: str,
) -> None:
    answer = patch(client, org, url(campaign, ids[0]), {"contact": person})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["errors"][0]["field"] == field


def test_patch_to_an_email_another_person_has_conflicts(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answer = patch(client, org, url(campaign, ids[0]), {"contact": {"email": "ALAN@example.com"}})
    assert answer.status_code == 409
    assert answer.json()["code"] == "CONTACT_DUPLICATE"


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("first_name", "Augusta Ada", "Augusta Ada"),
        ("last_name", "King", "King"),
        ("title", "Analyst", "Analyst"),
        ("company_name", "Analytical Engines", "Analytical Engines"),
        ("phone", "+44 20 7946 0000", "+44 20 7946 0000"),
        ("linkedin_url", "https://www.linkedin.com/in/ada", "https://www.linkedin.com/in/ada"),
        ("timezone", "Europe/London", "Europe/London"),
        ("lead_tier", "hot", "hot"),
        ("tags", ["math", "math", " poetry "], ["math", "poetry"]),
        ("custom_fields", {"engine": "analytical", "year": 1843}, None),
        ("email", "Ada.King@Example.com", "Ada.King@example.com"),
    ],
)
def test_patch_edits_each_of_the_persons_fields(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    ids: list[str],
    field: str,
    value: Any,
    shown: Any,
) -> None:
    answer = patch(client, org, url(campaign, ids[0]), {field: value})
    assert answer.status_code == 200, answer.text
    expected = value if shown is None else shown
    assert answer.json()["contact"][field] == expected
    assert client.get(url(campaign, ids[0]), headers=org.headers()).json() == answer.json()


@pytest.mark.parametrize(
    ("field", "cleared"),
    [
        ("first_name", None),
        ("last_name", None),
        ("title", None),
        ("company_name", None),
        ("phone", None),
        ("linkedin_url", None),
        ("timezone", None),
        ("lead_tier", None),
        ("tags", []),
        ("custom_fields", {}),
    ],
)
def test_patch_null_clears_an_optional_field(
    client: TestClient, org: Org, campaign: dict[str, Any], field: str, cleared: Any
) -> None:
    full = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "title": "Analyst",
        "company_name": "Engines",
        "phone": "+44 20 7946 0000",
        "linkedin_url": "https://www.linkedin.com/in/ada",
        "timezone": "Europe/London",
        "lead_tier": "warm",
        "tags": ["math"],
        "custom_fields": {"a": 1},
    }
    (member_id,) = add(client, org, campaign, [full])
    answer = patch(client, org, url(campaign, member_id), {field: None})
    assert answer.status_code == 200, answer.text
    person = answer.json()["contact"]
    assert person[field] == cleared
    assert {k: v for k, v in person.items() if k in full and k != field} == {
        k: v for k, v in full.items() if k != field
    }


def test_editing_a_campaign_contact_edits_the_person_in_every_campaign(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    other = create_campaign(client, org, name="Other")
    (in_other,) = add(client, org, other, [{"email": "ADA@example.com"}])
    answer = patch(
        client, org, url(campaign, ids[0]), {"first_name": "Augusta", "title": "Countess"}
    )
    assert answer.status_code == 200, answer.text
    elsewhere = client.get(url(other, in_other), headers=org.headers()).json()["contact"]
    assert (elsewhere["id"], elsewhere["first_name"], elsewhere["title"]) == (
        answer.json()["contact"]["id"],
        "Augusta",
        "Countess",
    )


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"email": "nope"}, "CONTACT_EMAIL_INVALID", "email"),
        ({"email": None}, "CONTACT_EMAIL_REQUIRED", "email"),
        ({"linkedin_url": "https://x.com/ada"}, "CONTACT_LINKEDIN_URL_INVALID", "linkedin_url"),
        ({"timezone": "Moon/Base"}, "CONTACT_TIMEZONE_INVALID", "timezone"),
        ({"first_name": "A" * 101}, "VALUE_TOO_LONG", "first_name"),
        ({"title": "T" * 201}, "VALUE_TOO_LONG", "title"),
        ({"phone": "1" * 41}, "VALUE_TOO_LONG", "phone"),
        ({"first_name": "P\nBcc: x@evil.example"}, "TEXT_CONTROL_CHARACTERS", "first_name"),
        ({"company_name": "Acme\u2028"}, "TEXT_CONTROL_CHARACTERS", "company_name"),
        ({"custom_fields": {"team": "a\r\nb"}}, "TEXT_CONTROL_CHARACTERS", "custom_fields.team"),
        ({"custom_fields": {"x": "y" * 9000}}, "CUSTOM_FIELDS_TOO_LARGE", "custom_fields"),
        ({"tags": ["t"] * 51}, "TOO_MANY_ITEMS", "tags"),
        ({"lead_tier": "lukewarm"}, "VALUE_NOT_ALLOWED", "lead_tier"),
        ({"contact_type": "investor"}, "CONTACT_TYPE_INVALID", "contact_type"),
        ({"score": 99}, "FIELD_UNKNOWN", "score"),
        ({"title": "A", "contact": {"title": "B"}}, "CONTACT_FIELD_GIVEN_TWICE", "contact.title"),
    ],
)
def test_patch_checks_the_persons_fields_as_an_add_does(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    ids: list[str],
    body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = client.get(url(campaign, ids[0]), headers=org.headers()).json()
    answer = patch(client, org, url(campaign, ids[0]), body)
    assert answer.status_code == 422, answer.text
    assert (answer.json()["code"], answer.json()["errors"][0]["field"]) == (code, field)
    assert client.get(url(campaign, ids[0]), headers=org.headers()).json() == before


def test_patch_reports_every_problem_and_changes_nothing(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    before = client.get(url(campaign, ids[0]), headers=org.headers()).json()
    body = {"first_name": "Augusta", "title": "CTO\r\n", "timezone": "Nowhere/Land"}
    answer = patch(client, org, url(campaign, ids[0]), body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert {(e["field"], e["code"]) for e in answer.json()["errors"]} == {
        ("title", "TEXT_CONTROL_CHARACTERS"),
        ("timezone", "CONTACT_TIMEZONE_INVALID"),
    }
    assert client.get(url(campaign, ids[0]), headers=org.headers()).json() == before


def test_patch_changes_the_email_to_a_free_one_only(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    taken = patch(client, org, url(campaign, ids[0]), {"email": "ALAN@example.com"})
    assert (taken.status_code, taken.json()["code"]) == (409, "CONTACT_DUPLICATE")
    moved = patch(client, org, url(campaign, ids[0]), {"email": "ada@lovelace.example"})
    assert moved.status_code == 200, moved.text
    again = post_contacts(client, org, campaign["id"], [{"email": "ada@lovelace.example"}])
    assert again.json()["results"][0]["code"] == "CONTACT_DUPLICATE"


@pytest.mark.parametrize(
    "field", ["status", "sent_at", "opened_at", "responded_at", "converted_at", "campaign_id"]
)
def test_patch_cannot_set_status_or_engagement(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str], field: str
) -> None:
    answer = patch(client, org, url(campaign, ids[0]), {field: "sent"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "FIELD_UNKNOWN"


def test_patch_ab_variant_only_while_draft(client: TestClient, org: Org) -> None:
    campaign = create_ab_campaign(client, org)
    (member_id,) = add(client, org, campaign, [{"email": "ada@example.com"}])
    current = client.get(url(campaign, member_id), headers=org.headers()).json()["ab_variant"]
    other = "B" if current == "A" else "A"
    answer = patch(client, org, url(campaign, member_id), {"ab_variant": other})
    assert answer.status_code == 200, answer.text
    assert answer.json()["ab_variant"] == other
    activated = client.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    assert activated.status_code == 200, activated.text
    locked = patch(client, org, url(campaign, member_id), {"ab_variant": current})
    assert locked.status_code == 409
    assert locked.json()["code"] == "CAMPAIGN_FIELD_LOCKED"
    unchanged = patch(client, org, url(campaign, member_id), {"ab_variant": other})
    assert unchanged.status_code == 200


def test_patch_ab_variant_outside_an_ab_test_is_refused(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answer = patch(client, org, url(campaign, ids[0]), {"ab_variant": "A"})
    assert answer.status_code == 422
    assert answer.json()["code"] == "CONTACT_AB_VARIANT_INVALID"


def test_delete_removes_the_membership_not_the_person(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    person = client.get(url(campaign, ids[0]), headers=org.headers()).json()["contact"]
    assert client.delete(url(campaign, ids[0]), headers=org.headers()).status_code == 204
    assert client.get(url(campaign, ids[0]), headers=org.headers()).status_code == 404
    assert client.delete(url(campaign, ids[0]), headers=org.headers()).status_code == 404
    again = post_contacts(client, org, campaign["id"], [{"email": "ada@example.com"}])
    result = again.json()["results"][0]
    assert (result["status"], result["contact_id"]) == ("created", person["id"])


def every_route(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    member_id: str,
    role: Role,
    authenticated: bool = True,
) -> list[Any]:
    headers = org.headers(role) if authenticated else {}
    return [
        client.post(
            url(campaign), json={"contacts": [{"email": "x@example.com"}]}, headers=headers
        ),
        client.get(url(campaign), headers=headers),
        client.get(url(campaign, member_id), headers=headers),
        client.patch(url(campaign, member_id), json={"contact_type": "referral"}, headers=headers),
        client.delete(url(campaign, member_id), headers=headers),
    ]


def test_another_organizations_campaign_is_not_found_on_every_route(
    client: TestClient, org: Org, other_org: Org
) -> None:
    theirs = create_campaign(client, other_org)
    (their_member,) = add(client, other_org, theirs, [{"email": "ada@example.com"}])
    answers = every_route(client, org, theirs, their_member, Role.ADMIN)
    assert [a.status_code for a in answers] == [404] * 5
    assert {a.json()["code"] for a in answers} == {"NOT_FOUND"}
    assert len(listed(client, other_org, url(theirs))["items"]) == 1


def test_another_organizations_contact_is_not_found_in_my_campaign(
    client: TestClient, org: Org, other_org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    theirs = create_campaign(client, other_org)
    (their_member,) = add(client, other_org, theirs, [{"email": "ada@example.com"}])
    answers = every_route(client, org, campaign, their_member, Role.ADMIN)[2:]
    assert [a.status_code for a in answers] == [404] * 3


def test_a_contact_of_another_campaign_is_not_found(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    other = create_campaign(client, org, name="Other")
    answers = every_route(client, org, other, ids[0], Role.ADMIN)[2:]
    assert [a.status_code for a in answers] == [404] * 3


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "Eve"},
        {"first_name": 5, "timezone": "Moon/Base", "status": "sent"},
        {"email": "x\r\nBcc: y@evil.example"},
        [],
        "x",
        None,
    ],
    ids=["valid", "invalid", "control", "list", "string", "null"],
)
def test_another_organizations_contact_is_not_found_whatever_the_body(
    client: TestClient,
    org: Org,
    other_org: Org,
    campaign: dict[str, Any],
    ids: list[str],
    body: Any,
) -> None:
    theirs = create_campaign(client, other_org)
    (their_member,) = add(client, other_org, theirs, [{"email": "ada@example.com"}])
    for campaign_of, member_id in ((theirs, their_member), (campaign, their_member)):
        answer = client.patch(url(campaign_of, member_id), json=body, headers=org.headers())
        assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND"), answer.text
    unchanged = client.get(url(theirs, their_member), headers=other_org.headers()).json()
    assert unchanged["contact"]["first_name"] is None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RECRUITER])
def test_a_viewer_or_another_recruiter_may_not_edit_the_person(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str], role: Role
) -> None:
    for body in ({"first_name": "Eve"}, {"first_name": 5}):
        answer = client.patch(url(campaign, ids[0]), json=body, headers=org.headers(role))
        assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN")


def test_a_recruiter_edits_the_people_of_its_own_campaign(client: TestClient, org: Org) -> None:
    own = create_campaign(client, org, role=Role.RECRUITER)
    (member_id,) = add(client, org, own, [{"email": "ada@example.com"}], Role.RECRUITER)
    answer = client.patch(
        url(own, member_id), json={"first_name": "Ada"}, headers=org.headers(Role.RECRUITER)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["contact"]["first_name"] == "Ada"


def test_lists_never_show_another_organizations_rows(
    client: TestClient, org: Org, other_org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    theirs = create_campaign(client, other_org)
    add(client, other_org, theirs, PEOPLE)
    mine = listed(client, org, url(campaign))["items"]
    assert sorted(item["id"] for item in mine) == sorted(ids)
    assert {item["contact"]["id"] for item in mine}.isdisjoint(
        item["contact"]["id"] for item in listed(client, other_org, url(theirs))["items"]
    )


def test_a_viewer_reads_but_may_not_change_contacts(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answers = every_route(client, org, campaign, ids[0], Role.VIEWER)
    assert [a.status_code for a in answers] == [403, 200, 200, 403, 403]
    assert {answers[i].json()["code"] for i in (0, 3, 4)} == {"FORBIDDEN"}


def test_a_recruiter_changes_contacts_only_of_campaigns_it_owns(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answers = every_route(client, org, campaign, ids[0], Role.RECRUITER)
    assert [a.status_code for a in answers] == [403, 200, 200, 403, 403]
    own = create_campaign(client, org, role=Role.RECRUITER)
    (member_id,) = add(client, org, own, [{"email": "ada@example.com"}], Role.RECRUITER)
    answers = every_route(client, org, own, member_id, Role.RECRUITER)
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 204]


def test_every_route_needs_a_token(
    client: TestClient, org: Org, campaign: dict[str, Any], ids: list[str]
) -> None:
    answers = every_route(client, org, campaign, ids[0], Role.ADMIN, authenticated=False)
    assert [a.status_code for a in answers] == [401] * 5
