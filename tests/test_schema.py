"""Migrations run up, down and up again on a new database; the app role is checked at startup."""

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url
from outreach.models.campaign_contact import CONTACT_STATUSES
from outreach.schema import (
    UnsafeDatabaseRole,
    alembic_config,
    check_app_role,
    downgrade,
    head_revision,
    upgrade,
)

TABLES = {
    "organizations",
    "user_profiles",
    "message_templates",
    "campaigns",
    "contacts",
    "campaign_contacts",
    "engagement_events",
    "suppressions",
    "idempotency_keys",
}


@pytest.fixture
def blank_database(database_urls: DatabaseUrls) -> Iterator[DatabaseUrls]:
    """A brand-new, empty database on the test server, dropped afterwards."""
    admin = libpq_url(database_urls.owner)
    name = f"outreach_schema_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        owner = make_url(database_urls.owner).set(database=name)
        app = make_url(database_urls.app).set(database=name)
        yield DatabaseUrls(
            app=app.render_as_string(hide_password=False),
            owner=owner.render_as_string(hide_password=False),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _public_tables(urls: DatabaseUrls) -> set[str]:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows} - {"alembic_version"}


def _revision(urls: DatabaseUrls) -> str | None:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


def test_migrations_upgrade_downgrade_and_upgrade_again(blank_database: DatabaseUrls) -> None:
    upgrade(blank_database)
    assert _public_tables(blank_database) >= TABLES
    assert _revision(blank_database) == head_revision(blank_database)

    downgrade(blank_database, "base")
    assert _public_tables(blank_database) == set()
    assert _revision(blank_database) is None

    upgrade(blank_database)
    assert _public_tables(blank_database) >= TABLES
    assert _revision(blank_database) == head_revision(blank_database)
    # the role the migration created (or found) can use the fresh schema, under RLS
    check_app_role(blank_database.app)
    with psycopg.connect(libpq_url(blank_database.app)) as conn:
        assert conn.execute("SELECT count(*) FROM campaigns").fetchone() == (0,)


def test_the_search_words_of_the_people_already_there_are_made(
    blank_database: DatabaseUrls,
) -> None:
    upgrade(blank_database, "0014_erased_contacts")
    org = uuid.uuid4()
    with psycopg.connect(libpq_url(blank_database.owner)) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Org')", (org,))
        conn.execute(
            "INSERT INTO contacts (org_id, email, first_name, last_name, company_name, erased_at) "
            "VALUES (%s, 'ada@example.com', 'Ada', 'Lovelace', NULL, NULL), "
            "(%s, 'erased@example.com', 'Erased', NULL, 'Gone Ltd', now())",
            (org, org),
        )
    upgrade(blank_database)
    with psycopg.connect(libpq_url(blank_database.owner)) as conn:
        rows = conn.execute("SELECT word FROM contact_search_words ORDER BY word").fetchall()
    assert [row[0] for row in rows] == ["ada", "com", "example", "lovelace"]


def test_processes_starting_together_on_a_new_database_migrate_it_once(
    blank_database: DatabaseUrls,
) -> None:
    """Workers started at once (a deployment, the benches) each apply the migrations."""
    migrate = (
        "import sys; from outreach.db import DatabaseUrls; from outreach.schema import upgrade; "
        "upgrade(DatabaseUrls(app=sys.argv[1], owner=sys.argv[2]))"
    )
    processes = [
        subprocess.Popen(  # noqa: S603 - our own code, the test's database
            [sys.executable, "-c", migrate, blank_database.app, blank_database.owner],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    assert _revision(blank_database) == head_revision(blank_database)


def test_superuser_as_app_role_is_refused(database_urls: DatabaseUrls) -> None:
    with pytest.raises(UnsafeDatabaseRole, match="superuser") as refused:
        check_app_role(database_urls.owner)
    message = str(refused.value)
    assert "DATABASE_URL" in message
    assert "outreach_app" in message


def test_app_role_passes_the_startup_check(database_urls: DatabaseUrls) -> None:
    check_app_role(database_urls.app)


@pytest.fixture
def login_role(database_urls: DatabaseUrls) -> Iterator[str]:
    """A throwaway login role (roles are cluster-wide: dropped after the test)."""
    name = f"outreach_probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(libpq_url(database_urls.owner), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOBYPASSRLS')
        try:
            yield name
        finally:
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


def _as_role(urls: DatabaseUrls, role: str) -> str:
    return make_url(urls.app).set(username=role).render_as_string(hide_password=False)


def test_role_with_bypassrls_is_refused(database_urls: DatabaseUrls, login_role: str) -> None:
    check_app_role(_as_role(database_urls, login_role))
    with psycopg.connect(libpq_url(database_urls.owner), autocommit=True) as conn:
        conn.execute(f'ALTER ROLE "{login_role}" BYPASSRLS')
    with pytest.raises(UnsafeDatabaseRole, match="BYPASSRLS"):
        check_app_role(_as_role(database_urls, login_role))


def test_role_that_owns_a_table_is_refused(database_urls: DatabaseUrls, login_role: str) -> None:
    with psycopg.connect(libpq_url(database_urls.owner), autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{login_role}_owned" (id int)')
        conn.execute(f'ALTER TABLE "{login_role}_owned" OWNER TO "{login_role}"')
    try:
        with pytest.raises(UnsafeDatabaseRole, match="owns"):
            check_app_role(_as_role(database_urls, login_role))
    finally:
        with psycopg.connect(libpq_url(database_urls.owner), autocommit=True) as conn:
            conn.execute(f'DROP TABLE "{login_role}_owned"')


# What the API took before revision 0005_tz (any name Python's zoneinfo loaded), and what its
# repair leaves: the zone a copy stands for, else NULL (the fallback applies).
STORED_ZONES = {
    "Europe/Paris": "Europe/Paris",
    "posix/Europe/Paris": "Europe/Paris",
    "right/UTC": "UTC",
    "posixrules": None,
    "localtime": None,
    "Factory": None,
    "Mars/Olympus_Mons": None,
}


def test_stored_zones_are_repaired_to_what_the_api_accepts(blank_database: DatabaseUrls) -> None:
    script = ScriptDirectory.from_config(alembic_config(blank_database))
    before = script.get_revision("0005_tz").down_revision
    assert isinstance(before, str)
    upgrade(blank_database, before)
    org, owner = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(libpq_url(blank_database.owner), autocommit=True) as conn:
        conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Acme')", (org,))
        conn.execute(
            "INSERT INTO user_profiles (id, org_id, role) VALUES (%s, %s, 'admin')", (owner, org)
        )
        for n, zone in enumerate(STORED_ZONES):
            conn.execute(
                "INSERT INTO campaigns (org_id, owner_id, name, timezone) VALUES (%s, %s, %s, %s)",
                (org, owner, f"Campaign {n}", zone),
            )
            conn.execute(
                "INSERT INTO contacts (org_id, email, timezone) VALUES (%s, %s, %s)",
                (org, f"person{n}@example.com", zone),
            )
    upgrade(blank_database)
    with psycopg.connect(libpq_url(blank_database.owner)) as conn:
        for table, label in (("campaigns", "name"), ("contacts", "email")):
            rows = conn.execute(f"SELECT {label}, timezone FROM {table} ORDER BY {label}")
            assert [zone for _, zone in rows] == list(STORED_ZONES.values()), table
        forced = conn.execute(
            "SELECT relname FROM pg_class WHERE relname IN ('campaigns', 'contacts') "
            "AND relforcerowsecurity ORDER BY relname"
        ).fetchall()
        assert forced == [("campaigns",), ("contacts",)]


def test_known_zone_skips_the_zones_the_server_does_not_know(
    as_owner: psycopg.Connection,
) -> None:
    row = as_owner.execute(
        "SELECT known_zone('Mars/Olympus_Mons', 'Asia/Tokyo'), known_zone(NULL, 'Europe/Paris'),"
        " known_zone('America/New_York', 'Asia/Tokyo'), known_zone('Moon/Base'),"
        " known_zone(NULL, NULL)"
    ).fetchone()
    assert row == ("Asia/Tokyo", "Europe/Paris", "America/New_York", "UTC", "UTC")


def test_the_contact_status_check_allows_exactly_the_statuses_of_the_code(
    as_owner: psycopg.Connection,
) -> None:
    """The statuses are listed once in the code (the model); the table's CHECK must agree."""
    row = as_owner.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conname = 'ck_campaign_contacts_status'"
    ).fetchone()
    assert row is not None
    assert set(re.findall(r"'(\w+)'", row[0])) == set(CONTACT_STATUSES)
