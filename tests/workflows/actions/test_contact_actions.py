"""Tag, score and field actions on real contacts: each rule of the contacts API holds, and a
contact the action cannot change fails alone while the others are changed."""

import uuid
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.contacts.schemas import MAX_SCORE
from outreach.db import DatabaseUrls
from outreach.kit.tenancy import org_session
from outreach.workflows.actions.service import ActionOutcome, apply_to_contacts
from outreach.workflows.graph.schemas import ActionConfig
from tests.factories import Org, insert_row, known, run_job

ACTION = TypeAdapter(ActionConfig)


@pytest.fixture
def people(client: TestClient, org: Org, as_owner: psycopg.Connection) -> "People":
    return People(known(client, org), as_owner)


class People:
    """Contacts of the test's organization, written straight into the table."""

    def __init__(self, org: Org, as_owner: psycopg.Connection) -> None:
        self.org = org
        self.as_owner = as_owner

    def add(self, **fields: Any) -> uuid.UUID:
        values = {"email": f"{uuid.uuid4().hex[:10]}@example.com", **fields}
        if "custom_fields" in values:
            values["custom_fields"] = Jsonb(values["custom_fields"])
        return uuid.UUID(insert_row(self.as_owner, "contacts", self.org, **values))

    def get(self, contact_id: uuid.UUID, column: str) -> Any:
        row = self.as_owner.execute(
            psycopg.sql.SQL("SELECT {} FROM contacts WHERE id = %s").format(
                psycopg.sql.Identifier(column)
            ),
            (contact_id,),
        ).fetchone()
        assert row is not None
        return row[0]


def apply(
    urls: DatabaseUrls, org: Org, config: dict[str, Any], *contact_ids: uuid.UUID
) -> dict[uuid.UUID, ActionOutcome]:
    action = ACTION.validate_python(config)

    async def job(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> dict[uuid.UUID, ActionOutcome]:
        async with org_session(sessionmaker, org.id) as session, session.begin():
            return await apply_to_contacts(session, action, list(contact_ids))

    return run_job(urls, job)


# -- tags --------------------------------------------------------------------------------


def test_added_tags_are_appended_once(database_urls: DatabaseUrls, people: People) -> None:
    ada = people.add(tags=["java", "paris"])
    outcome = apply(database_urls, people.org, {"type": "tag", "add": ["paris", "hot"]}, ada)[ada]
    assert outcome.ok
    assert outcome.event_type == "tag_added"
    assert outcome.data == {"added": ["hot"], "removed": []}
    assert people.get(ada, "tags") == ["java", "paris", "hot"]


def test_removed_tags_are_taken_off_and_a_tag_both_added_and_removed_stays(
    database_urls: DatabaseUrls, people: People
) -> None:
    ada = people.add(tags=["java", "cold", "paris"])
    config = {"type": "tag", "remove": ["cold", "paris", "absent"]}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert (outcome.event_type, outcome.data) == (
        "tag_removed",
        {"added": [], "removed": ["cold", "paris"]},
    )
    assert people.get(ada, "tags") == ["java"]
    both = {"type": "tag", "add": ["java"], "remove": ["java"]}
    assert apply(database_urls, people.org, both, ada)[ada].data == {"added": [], "removed": []}
    assert people.get(ada, "tags") == ["java"]


def test_a_contact_whose_tags_would_pass_the_limit_fails_alone(
    database_urls: DatabaseUrls, people: People
) -> None:
    full = people.add(tags=[f"tag{i}" for i in range(50)])
    other = people.add(tags=[])
    outcomes = apply(database_urls, people.org, {"type": "tag", "add": ["hot"]}, full, other)
    assert (outcomes[full].ok, outcomes[full].code) == (False, "TOO_MANY_ITEMS")
    assert (outcomes[full].message or "").startswith("tags: ")
    assert outcomes[other].ok
    assert len(people.get(full, "tags")) == 50
    assert people.get(other, "tags") == ["hot"]


def test_a_tag_longer_than_a_contacts_tag_may_be_is_refused(
    database_urls: DatabaseUrls, people: People
) -> None:
    ada = people.add(tags=["java"])
    outcome = apply(database_urls, people.org, {"type": "tag", "add": ["x" * 51]}, ada)[ada]
    assert (outcome.ok, outcome.code) == (False, "VALUE_TOO_LONG")
    assert people.get(ada, "tags") == ["java"]


# -- score -------------------------------------------------------------------------------


def test_the_score_moves_by_the_delta(database_urls: DatabaseUrls, people: People) -> None:
    ada = people.add(score=40)
    outcome = apply(database_urls, people.org, {"type": "score", "delta": 15}, ada)[ada]
    assert (outcome.event_type, outcome.data) == (
        "score_updated",
        {"delta": 15, "from": 40, "to": 55},
    )
    assert people.get(ada, "score") == 55


def test_the_score_stays_within_its_bounds(database_urls: DatabaseUrls, people: People) -> None:
    low, high = people.add(score=5), people.add(score=MAX_SCORE - 3)
    apply(database_urls, people.org, {"type": "score", "delta": -10}, low)
    apply(database_urls, people.org, {"type": "score", "delta": 10}, high)
    assert (people.get(low, "score"), people.get(high, "score")) == (0, MAX_SCORE)


# -- fields ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "Ada"),
        ("last_name", "Lovelace"),
        ("company_name", "Analytical Engines"),
        ("title", "Staff engineer"),
        ("phone", "+33 1 23 45 67 89"),
        ("linkedin_url", "https://www.linkedin.com/in/ada-lovelace"),
        ("lead_tier", "hot"),
        ("timezone", "Europe/Paris"),
    ],
)
def test_a_person_field_is_set(
    database_urls: DatabaseUrls, people: People, field: str, value: str
) -> None:
    ada = people.add(first_name="Augusta", title="Engineer")
    config = {"type": "field_update", "field": field, "value": value}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert outcome.ok, outcome.message
    assert outcome.event_type == "field_updated"
    assert (outcome.data["field"], outcome.data["to"]) == (field, value)
    assert people.get(ada, field) == value


def test_null_clears_a_person_field(database_urls: DatabaseUrls, people: People) -> None:
    ada = people.add(title="Engineer")
    config = {"type": "field_update", "field": "title", "value": None}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert outcome.data == {"field": "title", "from": "Engineer", "to": None}
    assert people.get(ada, "title") is None


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("lead_tier", "boiling", "VALUE_NOT_ALLOWED"),
        ("timezone", "Mars/Olympus_Mons", "CONTACT_TIMEZONE_INVALID"),
        ("linkedin_url", "https://example.com/ada", "CONTACT_LINKEDIN_URL_INVALID"),
        ("first_name", "A" * 101, "VALUE_TOO_LONG"),
        ("phone", "1" * 41, "VALUE_TOO_LONG"),
        ("title", "Engineer\nBcc: everyone@example.com", "TEXT_CONTROL_CHARACTERS"),
        ("company_name", 42, "VALUE_INVALID"),
    ],
)
def test_a_value_the_contacts_api_refuses_fails_and_changes_nothing(
    database_urls: DatabaseUrls, people: People, field: str, value: Any, code: str
) -> None:
    ada = people.add(first_name="Ada", lead_tier="warm", timezone="UTC")
    before = people.get(ada, field)
    config = {"type": "field_update", "field": field, "value": value}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert (outcome.ok, outcome.code) == (False, code)
    assert (outcome.message or "").startswith(f"{field}: ")
    assert people.get(ada, field) == before


@pytest.mark.parametrize("field", ["email", "lead_id", "score", "tags", "custom_fields", "id"])
def test_identity_and_other_fields_are_not_set_by_automation(
    database_urls: DatabaseUrls, people: People, field: str
) -> None:
    ada = people.add(email="ada@example.com")
    config = {"type": "field_update", "field": field, "value": "bob@example.com"}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert (outcome.ok, outcome.code) == (False, "CONTACT_FIELD_NOT_UPDATABLE")
    assert people.get(ada, "email") == "ada@example.com"


def test_a_custom_field_is_set_and_null_removes_it(
    database_urls: DatabaseUrls, people: People
) -> None:
    ada = people.add(custom_fields={"team": "core", "years": 7})
    config = {"type": "field_update", "field": "custom.team", "value": "platform"}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert outcome.data == {"field": "custom.team", "from": "core", "to": "platform"}
    assert people.get(ada, "custom_fields") == {"team": "platform", "years": 7}
    config = {"type": "field_update", "field": "custom.years", "value": None}
    apply(database_urls, people.org, config, ada)
    assert people.get(ada, "custom_fields") == {"team": "platform"}


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("custom.", "x", "VALUE_TOO_SHORT"),
        (f"custom.{'k' * 65}", "x", "VALUE_TOO_LONG"),
        ("custom.team", "core\r\nteam", "TEXT_CONTROL_CHARACTERS"),
    ],
)
def test_a_custom_field_the_contacts_api_refuses_fails(
    database_urls: DatabaseUrls, people: People, field: str, value: str, code: str
) -> None:
    ada = people.add(custom_fields={"team": "core"})
    config = {"type": "field_update", "field": field, "value": value}
    outcome = apply(database_urls, people.org, config, ada)[ada]
    assert (outcome.ok, outcome.code) == (False, code)
    assert (outcome.message or "").startswith("custom_fields")
    assert people.get(ada, "custom_fields") == {"team": "core"}


def test_a_contact_whose_custom_fields_would_pass_the_limits_fails_alone(
    database_urls: DatabaseUrls, people: People
) -> None:
    full = people.add(custom_fields={f"key{i}": i for i in range(50)})
    large = people.add(custom_fields={"notes": "n" * 7000})
    other = people.add(custom_fields={})
    config = {"type": "field_update", "field": "custom.team", "value": "t" * 1500}
    outcomes = apply(database_urls, people.org, config, full, large, other)
    assert (outcomes[full].ok, outcomes[full].code) == (False, "TOO_MANY_ITEMS")
    assert (outcomes[large].ok, outcomes[large].code) == (False, "CUSTOM_FIELDS_TOO_LARGE")
    assert outcomes[other].ok
    assert "team" not in people.get(full, "custom_fields")
    assert "team" not in people.get(large, "custom_fields")
    assert people.get(other, "custom_fields") == {"team": "t" * 1500}


# -- who ---------------------------------------------------------------------------------


def test_a_contact_that_no_longer_exists_fails_alone(
    database_urls: DatabaseUrls, people: People
) -> None:
    ada, gone = people.add(score=1), uuid.uuid4()
    outcomes = apply(database_urls, people.org, {"type": "score", "delta": 1}, gone, ada)
    assert (outcomes[gone].ok, outcomes[gone].code) == (False, "CONTACT_NOT_FOUND")
    assert outcomes[ada].ok
    assert people.get(ada, "score") == 2


def test_another_organizations_contact_is_not_changed(
    client: TestClient,
    database_urls: DatabaseUrls,
    people: People,
    other_org: Org,
    as_owner: psycopg.Connection,
) -> None:
    theirs = People(known(client, other_org), as_owner).add(score=10)
    outcome = apply(database_urls, people.org, {"type": "score", "delta": 5}, theirs)[theirs]
    assert outcome.code == "CONTACT_NOT_FOUND"
    assert people.get(theirs, "score") == 10
