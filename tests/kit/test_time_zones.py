"""Time zones both sides agree on: every place the API takes a zone (a campaign's, a contact's
in an add or a PATCH, `?tz=` of the timeseries) accepts only an IANA name the database's own tz
database lists, and refuses the rest with its code."""

import zoneinfo
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.kit.timezones import is_iana_name
from tests.factories import Org, create_campaign, post_contacts

CAMPAIGNS = "/api/v1/campaigns"
# Names Python's zoneinfo loads, that today's API accepted: files of a tz directory that are
# not zones, copies of the database, the "Factory" placeholder; and a name nobody knows.
REFUSED = ["posixrules", "localtime", "right/UTC", "posix/Europe/Paris", "Factory", "Moon/Base"]
ACCEPTED = ["Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT-14", "US/Eastern"]

# What an entry point answered for a zone: None when it took it, else (status, code, field).
Answer = tuple[int, str, str] | None
EntryPoint = Callable[[TestClient, Org, str], Answer]


def _refusal(answer: Any) -> Answer:
    if answer.status_code < 300:
        return None
    error = answer.json()["errors"][0]
    return answer.status_code, answer.json()["code"], error["field"]


def _row_refusal(result: dict[str, Any]) -> Answer:
    if result["status"] != "invalid":
        return None
    return 422, result["code"], result["errors"][0]["field"]


def create_with_zone(client: TestClient, org: Org, zone: str) -> Answer:
    body = {"name": "Java developers Paris", "timezone": zone}
    return _refusal(client.post(CAMPAIGNS, json=body, headers=org.headers()))


def patch_to_zone(client: TestClient, org: Org, zone: str) -> Answer:
    campaign = create_campaign(client, org)
    url = f"{CAMPAIGNS}/{campaign['id']}"
    return _refusal(client.patch(url, json={"timezone": zone}, headers=org.headers()))


def add_one_with_zone(client: TestClient, org: Org, zone: str) -> Answer:
    campaign = create_campaign(client, org)
    answer = post_contacts(
        client, org, campaign["id"], [{"email": "ada@example.com", "timezone": zone}]
    )
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    return _row_refusal(result)


def add_among_others(client: TestClient, org: Org, zone: str) -> Answer:
    """The zone in the middle row of three: the rows around it are added whatever it is."""
    campaign = create_campaign(client, org)
    rows = [
        {"email": "ada@example.com", "timezone": "Europe/London"},
        {"email": "grace@example.com", "timezone": zone},
        {"email": "alan@example.com"},
    ]
    answer = post_contacts(client, org, campaign["id"], rows)
    assert answer.status_code == 200, answer.text
    first, middle, last = answer.json()["results"]
    assert (first["status"], last["status"]) == ("created", "created")
    return _row_refusal(middle)


def patch_contact_to_zone(client: TestClient, org: Org, zone: str) -> Answer:
    campaign = create_campaign(client, org)
    added = post_contacts(client, org, campaign["id"], [{"email": "ada@example.com"}])
    member = added.json()["results"][0]["campaign_contact_id"]
    url = f"{CAMPAIGNS}/{campaign['id']}/contacts/{member}"
    return _refusal(client.patch(url, json={"contact": {"timezone": zone}}, headers=org.headers()))


def timeseries_in_zone(client: TestClient, org: Org, zone: str) -> Answer:
    campaign = create_campaign(client, org)
    url = f"{CAMPAIGNS}/{campaign['id']}/timeseries"
    return _refusal(client.get(url, params={"tz": zone}, headers=org.headers()))


ENTRY_POINTS: dict[EntryPoint, tuple[str, str]] = {
    create_with_zone: ("CAMPAIGN_TIMEZONE_INVALID", "timezone"),
    patch_to_zone: ("CAMPAIGN_TIMEZONE_INVALID", "timezone"),
    add_one_with_zone: ("CONTACT_TIMEZONE_INVALID", "timezone"),
    add_among_others: ("CONTACT_TIMEZONE_INVALID", "timezone"),
    patch_contact_to_zone: ("CONTACT_TIMEZONE_INVALID", "contact.timezone"),
    timeseries_in_zone: ("TIMEZONE_INVALID", "tz"),
}
entry_points = pytest.mark.parametrize(
    "entry", list(ENTRY_POINTS), ids=[entry.__name__ for entry in ENTRY_POINTS]
)


@entry_points
@pytest.mark.parametrize("zone", REFUSED)
def test_a_zone_that_is_not_an_iana_zone_of_the_database_is_refused(
    client: TestClient, org: Org, entry: EntryPoint, zone: str
) -> None:
    assert entry(client, org, zone) == (422, *ENTRY_POINTS[entry])


@entry_points
def test_a_zone_newer_than_the_databases_tz_database_is_refused(
    client: TestClient, org: Org, as_owner: psycopg.Connection, entry: EntryPoint
) -> None:
    database = {name for (name,) in as_owner.execute("SELECT name FROM pg_timezone_names")}
    newer = sorted(name for name in zoneinfo.available_timezones() - database if is_iana_name(name))
    if not newer:
        pytest.skip("this server's tz database has every zone Python's has")
    assert entry(client, org, newer[0]) == (422, *ENTRY_POINTS[entry])


@entry_points
@pytest.mark.parametrize("zone", ACCEPTED)
def test_an_iana_zone_of_the_database_is_accepted(
    client: TestClient, org: Org, entry: EntryPoint, zone: str
) -> None:
    assert entry(client, org, zone) is None


def test_the_zone_given_is_the_zone_stored(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org, timezone="America/Argentina/Buenos_Aires")
    assert campaign["timezone"] == "America/Argentina/Buenos_Aires"
    rows = [{"email": "ada@example.com", "timezone": "Asia/Kolkata"}]
    post_contacts(client, org, campaign["id"], rows)
    listed = client.get(f"{CAMPAIGNS}/{campaign['id']}/contacts", headers=org.headers())
    assert listed.json()["items"][0]["contact"]["timezone"] == "Asia/Kolkata"


@pytest.mark.parametrize(
    ("name", "iana"),
    [
        ("Europe/Paris", True),
        ("America/Argentina/Buenos_Aires", True),
        ("UTC", True),
        ("EST5EDT", True),
        ("posixrules", False),
        ("localtime", False),
        ("Factory", False),
        ("posix/Europe/Paris", False),
        ("right/UTC", False),
    ],
)
def test_iana_names_are_the_zones_and_links_of_the_tz_database(name: str, iana: bool) -> None:
    assert is_iana_name(name) is iana


def test_timeseries_in_an_unknown_zone_is_a_422_not_a_500(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    url = f"{CAMPAIGNS}/{campaign['id']}/timeseries"
    answer = client.get(url, params={"tz": "posixrules"}, headers=org.headers())
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "TIMEZONE_INVALID"
