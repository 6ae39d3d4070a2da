"""The import job: rows checked as the JSON bulk add checks them, duplicates and invalid rows
listed with their codes, batches committed with the progress, a crash resumed without
duplicates, a second upload of the same file, imports into the organization's people."""

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.contacts.imports.service import BATCH_ROWS
from outreach.db import DatabaseUrls
from tests.contacts.imports.uploads import (
    csv_text,
    imported,
    members_of,
    people,
    people_of,
    problems,
    run_imports,
    state,
    upload,
)
from tests.factories import Org, failing_writes, ok, post

HEADER = ("Email", "First Name", "LinkedIn", "Lead Tier", "Time zone", "Notes")


def test_duplicate_rows_are_skipped_within_a_batch_and_across_batches(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    rows = people(BATCH_ROWS + 10)
    # a repeat in the same batch (another case), and one in the next batch
    rows.insert(5, ("Ada", "Again", "ADA1@example.com", "X"))
    rows.append(("Ada", "Later", "ada2@example.com", "X"))
    result = imported(client, org, database_urls, csv_text(rows).encode(), campaign["id"])
    assert (result["created"], result["skipped"], result["invalid"]) == (BATCH_ROWS + 10, 2, 0)
    assert members_of(as_owner, campaign["id"]) == BATCH_ROWS + 10
    listed = problems(client, org, result["id"])
    assert [(p["row"], p["outcome"], p["codes"]) for p in listed] == [
        ("7", "skipped", "CONTACT_DUPLICATE"),
        (str(BATCH_ROWS + 13), "skipped", "CONTACT_DUPLICATE"),
    ]
    assert listed[0]["raw"] == "Ada,Again,ADA1@example.com,X"


def test_invalid_rows_are_listed_with_their_codes(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
) -> None:
    post(
        client, org, "/api/v1/suppressions", {"email": "gone@example.com", "reason": "unsubscribed"}
    )
    rows = [
        ("ada@example.com", "Ada", "", "hot", "Europe/Paris", ""),
        ("not-an-email", "Bob", "", "", "", ""),
        ("", "Nobody", "https://linkedin.com/in/nobody", "", "", ""),
        ("cy@example.com", "Cy", "https://example.com/cy", "lukewarm", "Mars/Olympus", ""),
        ('=HYPERLINK("x")', "Dee", "", "", "", "", "extra"),
        ("gone@example.com", "Gone", "", "", "", ""),
    ]
    result = imported(client, org, database_urls, csv_text(rows, HEADER).encode(), campaign["id"])
    assert (result["created"], result["skipped"], result["invalid"]) == (1, 1, 4)
    listed = {p["row"]: p for p in problems(client, org, result["id"])}
    assert {row: (p["outcome"], p["codes"]) for row, p in listed.items()} == {
        "3": ("invalid", "CONTACT_EMAIL_INVALID"),
        "4": ("invalid", "CONTACT_EMAIL_REQUIRED"),
        "5": (
            "invalid",
            "CONTACT_LINKEDIN_URL_INVALID CONTACT_TIMEZONE_INVALID VALUE_NOT_ALLOWED",
        ),
        "6": ("invalid", "IMPORT_ROW_TOO_MANY_VALUES"),
        "7": ("skipped", "CONTACT_UNSUBSCRIBED"),
    }
    assert listed["3"]["message"] == "email: Invalid email address format"
    # a cell a spreadsheet would run as a formula comes back as text
    assert listed["6"]["raw"] == """'=HYPERLINK("x"),Dee,,,,,extra"""


def test_a_crash_mid_import_resumes_after_the_last_batch_without_duplicates(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    rows = people(2 * BATCH_ROWS + 500)
    rows.insert(10, ("Bad", "Row", "not-an-email", "X"))
    started = ok(upload(client, org, csv_text(rows).encode(), campaign["id"]), 202)
    # the second batch's transaction fails (once): the first stays committed with its progress
    with failing_writes(as_owner, "contacts", f"NEW.email = 'ada{BATCH_ROWS + 100}@example.com'"):
        assert not run_imports(database_urls).ok
    stopped = state(client, org, started["id"])
    assert (stopped["status"], stopped["rows_done"], stopped["created"]) == (
        "running",
        BATCH_ROWS,
        BATCH_ROWS - 1,
    )
    assert "injected failure" in stopped["error"]
    assert stopped["eta_seconds"] is not None
    # taken up again once its retry time has come, where it stopped
    as_owner.execute(
        "UPDATE contact_imports SET leased_until = now() - interval '1 second' WHERE id = %s",
        (started["id"],),
    )
    assert run_imports(database_urls).ok
    done = state(client, org, started["id"])
    assert (done["status"], done["rows_total"], done["rows_done"]) == (
        "completed",
        len(rows),
        len(rows),
    )
    assert (done["created"], done["skipped"], done["invalid"], done["error"]) == (
        2 * BATCH_ROWS + 500,
        0,
        1,
        None,
    )
    assert members_of(as_owner, campaign["id"]) == 2 * BATCH_ROWS + 500
    assert [p["codes"] for p in problems(client, org, started["id"])] == ["CONTACT_EMAIL_INVALID"]
    # the file is deleted once imported
    [(chunks,)] = as_owner.execute(
        "SELECT count(*) FROM contact_import_chunks WHERE import_id = %s", (started["id"],)
    )
    assert chunks == 0


def test_an_import_held_by_a_worker_is_not_taken_by_another(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    started = ok(upload(client, org, csv_text(people(3)).encode(), campaign["id"]), 202)
    as_owner.execute(
        "UPDATE contact_imports SET status = 'running', leased_until = now() + interval '1 minute' "
        "WHERE id = %s",
        (started["id"],),
    )
    assert run_imports(database_urls).done == 0
    assert state(client, org, started["id"])["rows_done"] == 0
    assert members_of(as_owner, campaign["id"]) == 0


def test_a_second_upload_of_the_same_file_duplicates_nothing(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    content = csv_text(people(1500)).encode()
    first = imported(client, org, database_urls, content, campaign["id"])
    second = imported(client, org, database_urls, content, campaign["id"])
    assert first["file_sha256"] == second["file_sha256"]
    assert (second["created"], second["skipped"]) == (0, 1500)
    assert members_of(as_owner, campaign["id"]) == 1500
    assert len(people_of(as_owner, org)) == 1500
    # into the organization's people: updated, not created again
    org_import = imported(client, org, database_urls, content)
    assert (org_import["created"], org_import["updated"], org_import["skipped"]) == (0, 1500, 0)
    assert len(people_of(as_owner, org)) == 1500


def test_an_import_without_a_campaign_creates_and_updates_the_organizations_people(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    ok(
        post(
            client,
            org,
            f"/api/v1/campaigns/{campaign['id']}/contacts",
            {"contacts": [{"email": "ada0@example.com", "tags": ["java"]}]},
        )
    )
    rows = [("Ada", "Lovelace", "ada0@example.com", "Analytical"), *people(2, start=1)]
    rows.append(("Ada", "Twice", "ada1@example.com", "X"))
    rows.append(("No", "Email", "", "X"))
    result = imported(client, org, database_urls, csv_text(rows).encode())
    assert (result["campaign_id"], result["created"], result["updated"]) == (None, 2, 1)
    assert (result["skipped"], result["invalid"]) == (1, 1)
    assert members_of(as_owner, campaign["id"]) == 1
    ada = next(p for p in people_of(as_owner, org) if p["email"] == "ada0@example.com")
    assert (ada["first_name"], ada["tags"]) == ("Ada", ["java"])


def test_an_import_into_a_campaign_that_became_read_only_fails_with_the_reason(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
) -> None:
    started = ok(upload(client, org, csv_text(people(3)).encode(), campaign["id"]), 202)
    as_owner.execute("UPDATE campaigns SET status = 'completed' WHERE id = %s", (campaign["id"],))
    assert run_imports(database_urls).ok
    failed = state(client, org, started["id"])
    assert (failed["status"], failed["rows_done"], failed["eta_seconds"]) == ("failed", 0, None)
    assert failed["error"].startswith("CAMPAIGN_READ_ONLY")
    assert members_of(as_owner, campaign["id"]) == 0
