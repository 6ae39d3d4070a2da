"""The upload: streamed into chunks, answered 202 with the import; every refusal with its code
and nothing kept; who may upload where."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.contacts.imports.reading import CHUNK_BYTES
from outreach.db import DatabaseUrls
from outreach.main import create_app
from tests.contacts.imports.uploads import (
    csv_text,
    imports_kept,
    people,
    state,
    upload,
)
from tests.factories import Org, create_campaign, ok

SMALL_LIMIT = 64 * 1024


def test_the_upload_is_stored_in_chunks_and_queued(
    client: TestClient, org: Org, campaign: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    content = csv_text(people(40_000)).encode()
    assert len(content) > 2 * CHUNK_BYTES
    answer = upload(client, org, content, campaign["id"])
    body = ok(answer, 202)
    assert answer.headers["location"] == f"/api/v1/imports/{body['id']}"
    assert (body["status"], body["file_bytes"], body["rows_done"]) == ("queued", len(content), 0)
    assert body["errors_url"] == f"/api/v1/imports/{body['id']}/errors.csv"
    assert state(client, org, body["id"]) == body | {"eta_seconds": None}
    sizes = [
        row[0]
        for row in as_owner.execute(
            "SELECT length(data) FROM contact_import_chunks WHERE import_id = %s ORDER BY seq",
            (body["id"],),
        )
    ]
    assert sizes[:-1] == [CHUNK_BYTES] * (len(sizes) - 1)
    assert sum(sizes) == len(content)
    [(stored,)] = as_owner.execute(
        "SELECT string_agg(data, ''::bytea ORDER BY seq) FROM contact_import_chunks "
        "WHERE import_id = %s",
        (body["id"],),
    )
    assert stored == content


@pytest.mark.parametrize(
    ("content", "mapping", "code"),
    [
        (b"", None, "IMPORT_FILE_EMPTY"),
        (b"Email\r\nada@example.com\r\n\xff\xfe\x81\x8d\r\n", None, "IMPORT_ENCODING_UNKNOWN"),
        (b"ada@example.com,Ada\r\ngrace@example.com,Grace\r\n", None, "IMPORT_HEADER_MISSING"),
        (csv_text([]).encode(), "{not json", "IMPORT_MAPPING_INVALID"),
        (csv_text([]).encode(), '["email"]', "IMPORT_MAPPING_INVALID"),
        (csv_text([]).encode(), {"Mail": "email"}, "IMPORT_MAPPING_COLUMN_UNKNOWN"),
        (csv_text([]).encode(), {"E-mail": "e_mail"}, "IMPORT_MAPPING_FIELD_UNKNOWN"),
        (csv_text([]).encode(), {"First Name": "email"}, "IMPORT_MAPPING_FIELD_TWICE"),
        (
            csv_text([], header=tuple(f"c{n}" for n in range(201))).encode(),
            None,
            "IMPORT_TOO_MANY_COLUMNS",
        ),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_and_nothing_kept(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    as_owner: psycopg.Connection,
    content: bytes,
    mapping: Any,
    code: str,
) -> None:
    answer = upload(client, org, content, campaign["id"], mapping=mapping)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert imports_kept(as_owner, org) == 0


def test_a_body_that_is_not_a_form_or_has_no_file_is_refused(
    client: TestClient, org: Org, campaign: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    path = f"/api/v1/campaigns/{campaign['id']}/contacts/import"
    answer = client.post(
        path, content=b"Email\r\n", headers=org.headers() | {"Content-Type": "text/csv"}
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "IMPORT_NOT_MULTIPART")
    answer = client.post(
        path,
        data={"mapping": "{}"},
        files={"other": ("x.csv", b"Email\r\n")},
        headers=org.headers(),
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "IMPORT_FILE_MISSING")
    truncated = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nEmail\r\n'
    )
    answer = client.post(
        path,
        content=truncated,
        headers=org.headers() | {"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "IMPORT_NOT_MULTIPART")
    assert imports_kept(as_owner, org) == 0


@pytest.fixture(scope="module")
def small_client(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"import_max_bytes": SMALL_LIMIT})
    with TestClient(create_app(limited, database_urls), raise_server_exceptions=False) as client:
        yield client


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_kept(
    small_client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(small_client, org)
    fits = csv_text(people(100)).encode()
    assert ok(upload(small_client, org, fits, campaign["id"]), 202)["status"] == "queued"
    before = imports_kept(as_owner, org)
    # over the file's limit, within the form's: the upload counts the file's bytes itself
    over = csv_text(people(SMALL_LIMIT // 40)).encode()[: SMALL_LIMIT + 1]
    answer = upload(small_client, org, over, campaign["id"])
    assert (answer.status_code, answer.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    # far over: refused by its Content-Length before it is read
    answer = upload(small_client, org, over * 4, campaign["id"])
    assert (answer.status_code, answer.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert imports_kept(as_owner, org) == before


def test_who_may_import_where(
    client: TestClient,
    org: Org,
    other_org: Org,
    campaign: dict[str, Any],
    as_owner: psycopg.Connection,
) -> None:
    content = csv_text(people(1)).encode()
    viewer = org.headers(Role.VIEWER)
    assert upload(client, org, content, campaign["id"], headers=viewer).status_code == 403
    assert upload(client, org, content, headers=viewer).status_code == 403
    # a recruiter may import into the campaigns they own only (checked once the file is in)
    recruiter = org.headers(Role.RECRUITER)
    answer = upload(client, org, content, campaign["id"], headers=recruiter)
    assert (answer.status_code, answer.json()["code"]) == (403, "FORBIDDEN")
    assert imports_kept(as_owner, org) == 0
    # another organization's campaign is not found, nor its import
    assert upload(client, other_org, content, campaign["id"]).status_code == 404
    started = ok(upload(client, org, content, campaign["id"]), 202)
    for path in (f"/api/v1/imports/{started['id']}", f"/api/v1/imports/{started['id']}/errors.csv"):
        answer = client.get(path, headers=other_org.headers())
        assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")


def test_a_read_only_campaign_takes_no_import(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_campaign(client, org)
    as_owner.execute("UPDATE campaigns SET status = 'completed' WHERE id = %s", (campaign["id"],))
    answer = upload(client, org, csv_text(people(1)).encode(), campaign["id"])
    assert (answer.status_code, answer.json()["code"]) == (409, "CAMPAIGN_READ_ONLY")
