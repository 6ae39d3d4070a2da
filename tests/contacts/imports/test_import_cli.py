"""`outreach import FILE --campaign ID --org ORG` as a real process on the test database: the
same upload and job as the API, with its progress, and its refusals."""

from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from tests.contacts.imports.uploads import csv_text, members_of, people
from tests.factories import Org
from tests.served import environment, run


def test_the_command_imports_a_file_into_a_campaign_with_its_progress(
    client: TestClient,
    org: Org,
    campaign: dict[str, Any],
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
) -> None:
    rows = [*people(1200), ("Bad", "Row", "not-an-email", "X")]
    file = tmp_path / "candidates.csv"
    file.write_text(csv_text(rows), encoding="cp1252")
    env = environment(database_urls, tmp_path / "data")
    done = run(
        ["import", str(file), "--campaign", campaign["id"], "--org", str(org.id)], env, tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "rows/s" in done.stdout  # the progress line
    assert "completed: 1,201 rows, 1,200 created, 0 updated, 0 skipped, 1 invalid" in done.stdout
    assert "errors.csv" in done.stdout
    assert members_of(as_owner, campaign["id"]) == 1200
    [(file_name, created_by)] = as_owner.execute(
        "SELECT file_name, created_by FROM contact_imports WHERE org_id = %s", (org.id,)
    )
    assert file_name == "candidates.csv"
    assert created_by is not None


def test_the_command_refuses_a_file_it_cannot_import(
    org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection, tmp_path: Path
) -> None:
    file = tmp_path / "nothing.csv"
    file.write_bytes(b"")
    env = environment(database_urls, tmp_path / "data")
    done = run(["import", str(file), "--org", str(org.id)], env, tmp_path)
    assert done.returncode == 2
    assert "IMPORT_FILE_EMPTY" in done.stderr
    [(kept,)] = as_owner.execute(
        "SELECT count(*) FROM contact_imports WHERE org_id = %s", (org.id,)
    )
    assert kept == 0
    missing = run(["import", str(tmp_path / "absent.csv"), "--org", str(org.id)], env, tmp_path)
    assert (missing.returncode, "no such file" in missing.stderr) == (2, True)
