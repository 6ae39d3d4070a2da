"""Builders of the import tests: CSV files, their upload, the job, and what they left."""

import csv
import io
import json
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient

from outreach.contacts.imports.jobs import run_waiting_imports
from outreach.db import DatabaseUrls
from outreach.jobs.runs import JobReport
from tests.factories import Org, ok, run_job

HEADER = ("First Name", "Last Name", "E-mail", "Company Name")


def csv_text(
    rows: list[tuple[str, ...]], header: tuple[str, ...] = HEADER, delimiter: str = ","
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def people(count: int, start: int = 0) -> list[tuple[str, ...]]:
    return [
        (f"Ada{n}", f"Lovelace{n}", f"ada{n}@example.com", "Analytical")
        for n in range(start, start + count)
    ]


def upload(
    client: TestClient,
    org: Org,
    content: bytes,
    campaign_id: str | None = None,
    mapping: dict[str, Any] | str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    path = (
        f"/api/v1/campaigns/{campaign_id}/contacts/import"
        if campaign_id is not None
        else "/api/v1/contacts/import"
    )
    data = {}
    if mapping is not None:
        data["mapping"] = mapping if isinstance(mapping, str) else json.dumps(mapping)
    return client.post(
        path,
        files={"file": ("people.csv", content, "text/csv")},
        data=data,
        headers=headers or org.headers(),
    )


def run_imports(urls: DatabaseUrls) -> JobReport:
    report: JobReport = run_job(urls, run_waiting_imports)
    return report


def imported(
    client: TestClient,
    org: Org,
    urls: DatabaseUrls,
    content: bytes,
    campaign_id: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The file uploaded and imported; the import as GET /imports/{id} shows it."""
    started = ok(upload(client, org, content, campaign_id, **options), 202)
    assert run_imports(urls).ok
    return state(client, org, started["id"])


def state(client: TestClient, org: Org, import_id: str) -> dict[str, Any]:
    return dict(ok(client.get(f"/api/v1/imports/{import_id}", headers=org.headers())))


def problems(client: TestClient, org: Org, import_id: str) -> list[dict[str, str]]:
    """The errors CSV, row by row."""
    answer = client.get(f"/api/v1/imports/{import_id}/errors.csv", headers=org.headers())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def people_of(as_owner: psycopg.Connection, org: Org) -> list[dict[str, Any]]:
    with as_owner.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute("SELECT * FROM contacts WHERE org_id = %s ORDER BY email", (org.id,))
        return cursor.fetchall()


def members_of(as_owner: psycopg.Connection, campaign_id: str) -> int:
    row = as_owner.execute(
        "SELECT count(*) FROM campaign_contacts WHERE campaign_id = %s", (campaign_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def imports_kept(as_owner: psycopg.Connection, org: Org) -> int:
    """Imports and chunks of the organization (a refused upload leaves neither)."""
    row = as_owner.execute(
        "SELECT (SELECT count(*) FROM contact_imports WHERE org_id = %s) "
        "+ (SELECT count(*) FROM contact_import_chunks WHERE org_id = %s)",
        (org.id, org.id),
    ).fetchone()
    assert row is not None
    return int(row[0])
