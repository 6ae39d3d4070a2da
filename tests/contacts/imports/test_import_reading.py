"""What an import reads: every encoding, every delimiter, quoted fields across lines, header
aliases and an explicit mapping."""

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from tests.contacts.imports.uploads import (
    csv_text,
    imported,
    people,
    people_of,
    problems,
)
from tests.factories import Org

ACCENTED = ("Zoë", "Müller-Brontë", "zoe@example.com", "Société Générale")


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (lambda text: text.encode("utf-8"), "utf-8"),
        (lambda text: b"\xef\xbb\xbf" + text.encode("utf-8"), "utf-8-sig"),
        (lambda text: text.encode("cp1252"), "cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "cp1252"],
)
def test_each_encoding_is_read_with_its_accents(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    encoded: Any,
    encoding: str,
) -> None:
    content = encoded(csv_text([ACCENTED]))
    result = imported(client, org, database_urls, content, campaign["id"])
    assert (result["status"], result["encoding"], result["created"]) == (
        "completed",
        encoding,
        1,
    )
    # the BOM is not part of the first header: "First Name" is still mapped
    assert result["mapping"]["First Name"] == "first_name"
    [person] = people_of(as_owner, org)
    fields = ("first_name", "last_name", "email", "company_name")
    assert tuple(person[name] for name in fields) == ACCENTED


@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"]
)
def test_each_delimiter_is_detected(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    delimiter: str,
) -> None:
    # commas inside values must not fool the detection of the other delimiters
    rows = [("Ada", "Lovelace", "ada@example.com", "Babbage, Lovelace & Co")]
    content = csv_text(rows + people(3), delimiter=delimiter).encode()
    result = imported(client, org, database_urls, content, campaign["id"])
    assert (result["delimiter"], result["created"], result["invalid"]) == (delimiter, 4, 0)


def test_a_quoted_field_may_hold_line_breaks(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    header = ("E-mail", "Notes", "Company")
    content = csv_text(
        [
            ("ada@example.com", 'met at\r\nthe conference;\r\n"great"', "Analytical"),
            ("not-an-email", "", "X"),
        ],
        header=header,
    ).encode()
    result = imported(client, org, database_urls, content, campaign["id"])
    assert (result["rows_total"], result["created"], result["invalid"]) == (2, 1, 1)
    # the invalid row starts on the file's fifth line: the first row took three
    [problem] = problems(client, org, result["id"])
    assert (problem["row"], problem["codes"]) == ("5", "CONTACT_EMAIL_INVALID")
    [person] = people_of(as_owner, org)
    assert person["company_name"] == "Analytical"


@pytest.mark.parametrize(
    "header",
    [
        ("first_name", "LAST NAME", "Email Address", "company", "Job Title", "LinkedIn URL"),
        ("Firstname", "Surname", "E-Mail", "Company Name", "Title", "LinkedIn"),
        ("First Name", "Last_Name", "email", "Organization", "Position", "linkedin_url"),
    ],
)
def test_headers_are_matched_by_their_usual_names(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    header: tuple[str, ...],
) -> None:
    row = ("Ada", "Lovelace", "ada@example.com", "Analytical", "CTO", "https://linkedin.com/in/ada")
    result = imported(client, org, database_urls, csv_text([row], header).encode(), campaign["id"])
    assert result["created"] == 1
    [person] = people_of(as_owner, org)
    fields = ("first_name", "last_name", "email", "company_name", "title", "linkedin_url")
    assert tuple(person[name] for name in fields) == row


def test_tags_tier_and_phone_are_read_and_other_columns_ignored(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    header = ("Email", "Tags", "Lead Tier", "Phone", "Favourite colour")
    row = ("ada@example.com", "java; python,  rust", "hot", "+33 1 23 45 67 89", "green")
    result = imported(client, org, database_urls, csv_text([row], header).encode(), campaign["id"])
    assert "Favourite colour" not in result["mapping"]
    [person] = people_of(as_owner, org)
    assert person["tags"] == ["java", "python", "rust"]
    assert (person["lead_tier"], person["phone"]) == ("hot", "+33 1 23 45 67 89")
    assert person["custom_fields"] == {}


def test_an_explicit_mapping_names_columns_and_custom_fields(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    header = ("Courriel", "Prénom", "Équipe", "Company")
    row = ("ada@example.com", "Ada", "Platform", "Analytical")
    mapping = {"Courriel": "email", "Prénom": "first_name", "Équipe": "custom_fields.team"}
    result = imported(
        client,
        org,
        database_urls,
        csv_text([row], header).encode(),
        campaign["id"],
        mapping=mapping,
    )
    assert result["mapping"] == mapping | {"Company": "company_name"}
    [person] = people_of(as_owner, org)
    assert (person["email"], person["first_name"], person["company_name"]) == (
        "ada@example.com",
        "Ada",
        "Analytical",
    )
    assert person["custom_fields"] == {"team": "Platform"}
