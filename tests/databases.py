"""The test databases: a fresh PostgreSQL database, migrated, on the test server."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from outreach.db import DatabaseUrls
from outreach.embedded import start_embedded_postgres
from outreach.kit.dburls import libpq_url
from outreach.schema import upgrade

PROJECT_ROOT = Path(__file__).resolve().parents[1]
APP_ROLE = "outreach_app"


def admin_url() -> str:
    """OUTREACH_TEST_ADMIN_URL (a superuser URL, e.g. the local server) or, when unset, the
    embedded PostgreSQL under .data/test."""
    given = os.environ.get("OUTREACH_TEST_ADMIN_URL")
    if given:
        return given
    return start_embedded_postgres(PROJECT_ROOT / ".data" / "test", "postgres")


@contextmanager
def migrated_database() -> Iterator[DatabaseUrls]:
    """A new database, migrated, dropped afterwards."""
    admin = libpq_url(admin_url())
    name = f"outreach_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    owner = make_url(admin).set(database=name)
    app = owner.set(username=APP_ROLE, password=None)
    urls = DatabaseUrls(
        app=app.render_as_string(hide_password=False),
        owner=owner.render_as_string(hide_password=False),
    )
    try:
        upgrade(urls)
        yield urls
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
