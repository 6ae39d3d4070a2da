"""The organization's people: search by word prefix, filters, pages, one person with their
campaigns, edits, tags, deletion and activity; tenancy and roles on every route."""

import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from outreach.auth.tokens import Role
from outreach.contacts.people import repository as people_repository
from outreach.contacts.people.filters import (
    MAX_WORD_LENGTH,
    ContactFilters,
    conditions,
    search_query,
)
from outreach.kit.tenancy import set_org
from outreach.models import Contact
from tests.factories import (
    T0,
    Org,
    create_campaign,
    insert_events,
    listed,
    ok,
    patch,
    post,
    post_contacts,
    start_campaign,
)

PEOPLE = [
    {"email": "ada.lovelace@example.com", "first_name": "Ada", "last_name": "Lovelace",
     "company_name": "Analytical Engines", "tags": ["math"], "lead_tier": "hot"},
    {"email": "grace@navy.example.com", "first_name": "Grace", "last_name": "Hopper",
     "company_name": "US Navy", "tags": ["math", "navy"], "lead_tier": "warm"},
    {"email": "sean@example.com", "first_name": "Seán", "last_name": "O'Brien",
     "company_name": "Jean-Luc Consulting"},
]  # fmt: skip
URL = "/api/v1/contacts"


def members(client: TestClient, org: Org, campaign_id: str, rows: list[Any]) -> dict[str, Any]:
    """Email to the row result of adding `rows` to the campaign."""
    answer = ok(post_contacts(client, org, campaign_id, rows))
    return {row["email"]: result for row, result in zip(rows, answer["results"], strict=True)}


@pytest.fixture
def campaign(client: TestClient, org: Org) -> dict[str, Any]:
    return create_campaign(client, org)


@pytest.fixture
def people(client: TestClient, org: Org, campaign: dict[str, Any]) -> dict[str, Any]:
    return members(client, org, campaign["id"], PEOPLE)


@pytest.fixture(params=["led by the rarest word", "walking the people"])
def search_plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each search test runs through both of people_page's plans: the thresholds decide which
    (the tests' words are all rare, so thresholds of 0 make every search a walk)."""
    if request.param == "walking the people":
        monkeypatch.setattr(people_repository, "WORD_LEADS_BELOW", 0)
        monkeypatch.setattr(people_repository, "WORDS_LEAD_BELOW", 0)
    return str(request.param)


def found(client: TestClient, org: Org, **params: Any) -> set[str]:
    return {item["email"] for item in listed(client, org, URL, **params)["items"]}


def test_search_splits_the_query_as_the_words_of_a_person() -> None:
    assert search_query("Ada  LOVE") == ["Ada", "LOVE"]
    assert search_query("o'brien") == ["o", "brien"]
    assert search_query("back\\slash_under") == ["back", "slash", "under"]
    assert search_query("SEÁN Ünal 東京") == ["SEÁN", "Ünal", "東京"]
    assert search_query("a b c d e f g h i j") == list("abcdefgh")
    assert search_query("-- !!") == []


@pytest.mark.parametrize(
    ("q", "emails"),
    [
        ("love", {"ada.lovelace@example.com"}),
        ("ada.lovelace@exa", {"ada.lovelace@example.com"}),
        ("grace@", {"grace@navy.example.com"}),
        ("navy", {"grace@navy.example.com"}),
        ("analytical ada", {"ada.lovelace@example.com"}),
        ("O'Brien", {"sean@example.com"}),
        ("jean-luc", {"sean@example.com"}),
        ("seán", {"sean@example.com"}),
        ("SEÁN O'BRI", {"sean@example.com"}),
        ("hopper ada", set()),
        ("--", set()),
        ("'); drop table contacts; --", set()),
    ],
)
def test_search_by_word_prefixes(
    client: TestClient, org: Org, people: dict[str, Any], search_plan: str, q: str, emails: set[str]
) -> None:
    assert found(client, org, q=q) == emails


def test_search_prefixes_end_exactly_in_code_point_order(
    client: TestClient, org: Org, campaign: dict[str, Any], search_plan: str
) -> None:
    """A prefix's range ends at its last character's successor: `zoé` is not `zoê` (é + 1),
    `東京` not `東亭` (京 + 1); a word is cut to MAX_WORD_LENGTH, in a person as in a query."""
    names = {"zoe": "Zoé", "zoe2": "Zoê", "tokyo": "東京", "tokyo2": "東亭", "long": "X" * 70}
    rows = [{"email": f"{key}@example.org", "last_name": name} for key, name in names.items()]
    members(client, org, campaign["id"], rows)
    assert found(client, org, q="ZOÉ") == {"zoe@example.org"}
    assert found(client, org, q="zo") == {"zoe@example.org", "zoe2@example.org"}
    assert found(client, org, q="東京") == {"tokyo@example.org"}
    assert found(client, org, q="東") == {"tokyo@example.org", "tokyo2@example.org"}
    assert found(client, org, q="x" * MAX_WORD_LENGTH + "y") == {"long@example.org"}


def words_of(as_owner: psycopg.Connection, contact_id: str) -> list[str]:
    rows = as_owner.execute(
        "SELECT word FROM contact_search_words WHERE contact_id = %s ORDER BY word", [contact_id]
    )
    return [row[0] for row in rows]


def test_a_persons_words_follow_their_searched_fields(
    client: TestClient, org: Org, people: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    ada = people["ada.lovelace@example.com"]["contact_id"]
    sean = people["sean@example.com"]["contact_id"]
    assert words_of(as_owner, ada) == ["ada", "analytical", "com", "engines", "example", "lovelace"]
    assert words_of(as_owner, sean) == [
        "brien",
        "com",
        "consulting",
        "example",
        "jean",
        "luc",
        "o",
        "sean",
        "seán",
    ]
    kept = "SELECT array_agg(ctid ORDER BY word) FROM contact_search_words WHERE contact_id = %s"
    before = as_owner.execute(kept, [ada]).fetchone()
    as_owner.execute("UPDATE contacts SET score = 5, tags = '{x}' WHERE id = %s", [ada])
    assert as_owner.execute(kept, [ada]).fetchone() == before  # not rewritten
    ok(patch(client, org, f"{URL}/{ada}", {"company_name": "Difference Engine"}))
    assert words_of(as_owner, ada) == ["ada", "com", "difference", "engine", "example", "lovelace"]
    assert found(client, org, q="analytical") == set()
    assert found(client, org, q="difference") == {"ada.lovelace@example.com"}
    as_owner.execute("UPDATE contacts SET erased_at = now() WHERE id = %s", [ada])
    assert words_of(as_owner, ada) == []
    assert client.delete(f"{URL}/{sean}", headers=org.headers()).status_code == 204
    assert words_of(as_owner, sean) == []


def test_filters_by_tag_tier_and_score(
    client: TestClient, org: Org, people: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    as_owner.execute("UPDATE contacts SET score = 40 WHERE email = 'grace@navy.example.com'")
    assert found(client, org, tag="math") == {"ada.lovelace@example.com", "grace@navy.example.com"}
    assert found(client, org, tag=["math", "navy"]) == {"grace@navy.example.com"}
    assert found(client, org, lead_tier="hot") == {"ada.lovelace@example.com"}
    assert found(client, org, score_min=10) == {"grace@navy.example.com"}
    assert found(client, org, score_max=10) == {"ada.lovelace@example.com", "sean@example.com"}


def test_filters_by_campaign_status_and_activity(
    client: TestClient, org: Org, people: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    other = create_campaign(client, org, name="Other")
    members(client, org, other["id"], [PEOPLE[2]])
    ada = people["ada.lovelace@example.com"]["campaign_contact_id"]
    as_owner.execute("UPDATE campaign_contacts SET status = 'responded' WHERE id = %s", [ada])
    insert_events(as_owner, org, other["id"], [_member_of(as_owner, other["id"])], "opened", T0)
    assert found(client, org, campaign_id=other["id"]) == {"sean@example.com"}
    assert found(client, org, status="responded") == {"ada.lovelace@example.com"}
    assert found(client, org, status="responded", campaign_id=other["id"]) == set()
    assert found(client, org, active_since=T0.isoformat()) == {"sean@example.com"}
    later = (T0 + timedelta(seconds=1)).isoformat()
    assert found(client, org, active_since=later) == set()


def _member_of(as_owner: psycopg.Connection, campaign_id: str) -> str:
    row = as_owner.execute(
        "SELECT id::text FROM campaign_contacts WHERE campaign_id = %s", [campaign_id]
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_pages_follow_the_cursor_newest_first(
    client: TestClient, org: Org, people: dict[str, Any]
) -> None:
    first = listed(client, org, URL, limit=2)
    second = listed(client, org, URL, limit=2, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(set(ids)) == 3


def test_a_search_pages_newest_first_with_the_other_filters(
    client: TestClient, org: Org, campaign: dict[str, Any], search_plan: str
) -> None:
    """Pages of a search follow the cursor without a repeat or a gap, the people newest first,
    the other filters applied to the people its words find."""
    rows = [
        {"email": f"p{n}@example.org", "last_name": f"Page{n}", "tags": ["even"] if n % 2 else []}
        for n in range(7)
    ]
    members(client, org, campaign["id"], rows)
    members(client, org, campaign["id"], [{"email": "other@example.org", "last_name": "Else"}])
    seen: list[str] = []
    cursor: dict[str, str] = {}
    while True:
        page = listed(client, org, URL, q="page example", limit=3, **cursor)
        seen += [item["email"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = {"cursor": page["next_cursor"]}
    assert sorted(seen) == sorted(row["email"] for row in rows)
    created = [item["created_at"] for item in listed(client, org, URL, q="page", limit=50)["items"]]
    assert created == sorted(created, reverse=True)
    assert found(client, org, q="page", tag="even") == {
        "p1@example.org",
        "p3@example.org",
        "p5@example.org",
    }
    assert found(client, org, q="page", tag="even", limit=1) <= {
        "p5@example.org",
        "p3@example.org",
        "p1@example.org",
    }


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"score_min": 5, "score_max": 4}, "CONTACT_FILTER_SCORE_RANGE"),
        ({"score_min": -1}, "VALUE_TOO_SMALL"),
        ({"lead_tier": "lukewarm"}, "VALUE_NOT_ALLOWED"),
        ({"q": "x" * 201}, "VALUE_TOO_LONG"),
        ({"active_since": "2026-01-01T00:00:00"}, "VALUE_INVALID"),
        ({"campaign_id": "nope"}, "UUID_INVALID"),
        ({"cursor": "bm9wZQ"}, "CURSOR_INVALID"),
    ],
)
def test_bad_filters_are_refused_with_their_code(
    client: TestClient, org: Org, params: dict[str, Any], code: str
) -> None:
    answer = client.get(URL, params=params, headers=org.headers(Role.VIEWER))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code


def test_one_person_with_their_campaigns(
    client: TestClient, org: Org, campaign: dict[str, Any], people: dict[str, Any]
) -> None:
    ada = people["ada.lovelace@example.com"]
    person = listed(client, org, f"{URL}/{ada['contact_id']}")
    assert (person["first_name"], person["tags"], person["score"]) == ("Ada", ["math"], 0)
    [membership] = person["campaigns"]
    assert membership["campaign_id"] == campaign["id"]
    assert membership["campaign_contact_id"] == ada["campaign_contact_id"]
    assert (membership["status"], membership["campaign_status"]) == ("pending", "draft")


def test_edit_checks_fields_as_the_campaign_contact_edit(
    client: TestClient, org: Org, people: dict[str, Any]
) -> None:
    path = f"{URL}/{people['ada.lovelace@example.com']['contact_id']}"
    changed = ok(patch(client, org, path, {"title": "Countess", "company_name": None}))
    assert (changed["title"], changed["company_name"]) == ("Countess", None)
    for body, status, code in [
        ({"email": "not-an-email"}, 422, "CONTACT_EMAIL_INVALID"),
        ({"email": None}, 422, "CONTACT_EMAIL_REQUIRED"),  # in an email campaign
        ({"first_name": "A\nB"}, 422, "TEXT_CONTROL_CHARACTERS"),
        ({"score": 3}, 422, "FIELD_UNKNOWN"),
        ({"email": "GRACE@navy.example.com"}, 409, "CONTACT_DUPLICATE"),
    ]:
        answer = patch(client, org, path, body)
        assert (answer.status_code, answer.json()["code"]) == (status, code), body
    assert listed(client, org, path)["email"] == "ada.lovelace@example.com"


def test_a_person_in_no_campaign_keeps_an_email_or_a_lead_id(
    client: TestClient, org: Org, people: dict[str, Any], campaign: dict[str, Any]
) -> None:
    sean = people["sean@example.com"]
    client.delete(
        f"/api/v1/campaigns/{campaign['id']}/contacts/{sean['campaign_contact_id']}",
        headers=org.headers(),
    )
    path = f"{URL}/{sean['contact_id']}"
    answer = patch(client, org, path, {"email": None})
    assert answer.json()["code"] == "CONTACT_EMAIL_REQUIRED"
    lead = "6d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert ok(patch(client, org, path, {"email": None, "lead_id": lead}))["email"] is None


def test_tags_are_added_and_removed(client: TestClient, org: Org, people: dict[str, Any]) -> None:
    path = f"{URL}/{people['grace@navy.example.com']['contact_id']}/tags"
    person = ok(post(client, org, path, {"add": ["admiral", "math"], "remove": ["navy"]}))
    assert person["tags"] == ["math", "admiral"]
    assert post(client, org, path, {}).json()["code"] == "CONTACT_TAGS_CHANGE_EMPTY"
    many = {"add": [f"t{i}" for i in range(49)]}
    assert post(client, org, path, many).json()["code"] == "TOO_MANY_ITEMS"
    assert listed(client, org, path.removesuffix("/tags"))["tags"] == ["math", "admiral"]


def test_delete_removes_the_person_and_their_memberships(
    client: TestClient, org: Org, people: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    ada = people["ada.lovelace@example.com"]
    assert client.delete(f"{URL}/{ada['contact_id']}", headers=org.headers()).status_code == 204
    assert client.get(f"{URL}/{ada['contact_id']}", headers=org.headers()).status_code == 404
    left = as_owner.execute(
        "SELECT count(*) FROM campaign_contacts WHERE contact_id = %s", [ada["contact_id"]]
    ).fetchone()
    assert left == (0,)


def test_delete_is_refused_while_in_a_live_campaign(client: TestClient, org: Org) -> None:
    running = start_campaign(client, org, [{"email": "live@example.com"}])
    person = listed(client, org, URL, q="live")["items"][0]
    answer = client.delete(f"{URL}/{person['id']}", headers=org.headers())
    assert (answer.status_code, answer.json()["code"]) == (409, "CONTACT_IN_LIVE_CAMPAIGN")
    assert running.members


def test_activity_lists_every_event_across_campaigns_newest_first(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    people: dict[str, Any],
    as_owner: psycopg.Connection,
) -> None:
    other = create_campaign(client, org, name="Other")
    ada = people["ada.lovelace@example.com"]
    again = members(client, org, other["id"], [PEOPLE[0]])["ada.lovelace@example.com"]
    insert_events(as_owner, org, campaign["id"], [ada["campaign_contact_id"]], "email_sent", T0)
    later = T0 + timedelta(hours=1)
    insert_events(as_owner, org, other["id"], [again["campaign_contact_id"]], "opened", later)
    grace = people["grace@navy.example.com"]["campaign_contact_id"]
    insert_events(as_owner, org, campaign["id"], [grace], "opened", later)
    path = f"{URL}/{ada['contact_id']}/activity"
    first = listed(client, org, path, limit=1)
    second = listed(client, org, path, limit=1, cursor=first["next_cursor"])
    assert [e["event_type"] for e in first["items"] + second["items"]] == ["opened", "email_sent"]
    assert first["items"][0]["campaign_id"] == other["id"]
    assert second["next_cursor"] is None


def test_another_orgs_person_is_not_found(
    client: TestClient, org: Org, other_org: Org, people: dict[str, Any]
) -> None:
    path = f"{URL}/{people['ada.lovelace@example.com']['contact_id']}"
    headers = other_org.headers()
    assert client.get(path, headers=headers).status_code == 404
    assert client.patch(path, json={"title": "x"}, headers=headers).status_code == 404
    assert client.post(f"{path}/tags", json={"add": ["x"]}, headers=headers).status_code == 404
    assert client.get(f"{path}/activity", headers=headers).status_code == 404
    assert client.delete(path, headers=headers).status_code == 404
    assert listed(client, other_org, URL)["items"] == []


def test_viewers_read_writers_edit_managers_delete(
    client: TestClient, org: Org, people: dict[str, Any]
) -> None:
    path = f"{URL}/{people['ada.lovelace@example.com']['contact_id']}"
    assert client.get(path, headers=org.headers(Role.VIEWER)).status_code == 200
    assert patch(client, org, path, {"title": "x"}, Role.VIEWER).status_code == 403
    assert post(client, org, f"{path}/tags", {"add": ["x"]}, Role.VIEWER).status_code == 403
    assert patch(client, org, path, {"title": "x"}, Role.RECRUITER).status_code == 200
    assert client.delete(path, headers=org.headers(Role.RECRUITER)).status_code == 403
    assert client.delete(path, headers=org.headers(Role.TA_MANAGER)).status_code == 204


def test_search_uses_the_words_index_under_row_level_security(
    as_app: psycopg.Connection, org: Org, people: dict[str, Any]
) -> None:
    """As the application role, in its organization: each word's condition is a range an index
    of the words serves (a condition that is not leakproof, as `@@` was, is evaluated under
    row-level security only after the policy, on every person of the organization)."""
    statement = select(Contact.id).where(*conditions(ContactFilters(q="ada love")))
    compiled = statement.compile(dialect=psycopg_dialect())
    with as_app.transaction():
        set_org(as_app, org.id)
        as_app.execute("SET LOCAL enable_seqscan = off")
        plan = [row[0] for row in as_app.execute(f"EXPLAIN {compiled}", compiled.params)]
        found = {row[0] for row in as_app.execute(str(compiled), compiled.params)}
    assert found == {uuid.UUID(people["ada.lovelace@example.com"]["contact_id"])}
    shown = "\n".join(plan)
    for prefix, successor in (("ada", "adb"), ("love", "lovf")):
        searched = [line for line in plan if f"word >= '{prefix}'" in line]
        assert len(searched) == 1, shown
        assert "Index Cond:" in searched[0], shown
        assert f"word < '{successor}'" in searched[0], shown
