"""Row-level security, proven in SQL as the application role: each org sees only its own rows.

Rows of two organizations are seeded as the owner (a superuser, so RLS does not apply to it);
every check then connects as `outreach_app`, the role the API runs as.
"""

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url
from outreach.kit.tenancy import set_org

APP_ROLE = "outreach_app"
RLS_VIOLATION = "new row violates row-level security policy"


@dataclass(frozen=True)
class Seed:
    """One organization's row in each tenant table."""

    org: uuid.UUID = field(default_factory=uuid.uuid4)
    user: uuid.UUID = field(default_factory=uuid.uuid4)
    template: uuid.UUID = field(default_factory=uuid.uuid4)
    campaign: uuid.UUID = field(default_factory=uuid.uuid4)
    contact: uuid.UUID = field(default_factory=uuid.uuid4)
    spare_contact: uuid.UUID = field(default_factory=uuid.uuid4)  # in no campaign
    campaign_contact: uuid.UUID = field(default_factory=uuid.uuid4)
    event: uuid.UUID = field(default_factory=uuid.uuid4)
    suppression: uuid.UUID = field(default_factory=uuid.uuid4)
    idempotency_key: str = field(default_factory=lambda: f"key-{uuid.uuid4()}")


@dataclass(frozen=True)
class Tenants:
    a: Seed
    b: Seed


Row = dict[str, Any]


def _unique() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class TenantTable:
    """How to reach one table's rows: its tenant column, its key, and a valid new row."""

    name: str
    new_row: Callable[[Seed], Row]
    tenant_column: str = "org_id"
    key_column: str = "id"

    def __str__(self) -> str:
        return self.name

    def key_of(self, seed: Seed) -> Any:
        keys: dict[str, Any] = {
            "organizations": seed.org,
            "user_profiles": seed.user,
            "message_templates": seed.template,
            "campaigns": seed.campaign,
            "contacts": seed.contact,
            "campaign_contacts": seed.campaign_contact,
            "engagement_events": seed.event,
            "suppressions": seed.suppression,
            "idempotency_keys": seed.idempotency_key,
        }
        return keys[self.name]


TABLES = (
    TenantTable(
        "organizations",
        lambda s: {"id": uuid.uuid4(), "name": "Intruder"},
        tenant_column="id",
    ),
    TenantTable(
        "user_profiles",
        lambda s: {"id": uuid.uuid4(), "org_id": s.org, "role": "viewer"},
    ),
    TenantTable(
        "message_templates",
        lambda s: {"org_id": s.org, "name": "SMS", "channel": "sms", "body_text": "Hi"},
    ),
    TenantTable(
        "campaigns",
        lambda s: {"org_id": s.org, "name": f"Campaign {_unique()}", "owner_id": s.user},
    ),
    TenantTable(
        "contacts",
        lambda s: {"org_id": s.org, "email": f"{_unique()}@example.com"},
    ),
    TenantTable(
        "campaign_contacts",
        lambda s: {"org_id": s.org, "campaign_id": s.campaign, "contact_id": s.spare_contact},
    ),
    TenantTable(
        "engagement_events",
        lambda s: {
            "org_id": s.org,
            "campaign_id": s.campaign,
            "campaign_contact_id": s.campaign_contact,
            "event_type": "opened",
        },
    ),
    TenantTable(
        "suppressions",
        lambda s: {"org_id": s.org, "email": f"{_unique()}@example.com", "reason": "manual"},
    ),
    TenantTable(
        "idempotency_keys",
        lambda s: {
            "org_id": s.org,
            "user_id": s.user,
            "key": f"key-{_unique()}",
            "request_hash": "hash",
            "response_status": 201,
            "response_body": json.dumps({}),
        },
        key_column="key",
    ),
)


def _insert(conn: psycopg.Connection, table: str, row: Row) -> None:
    conn.execute(
        sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(c) for c in row),
            sql.SQL(", ").join(sql.Placeholder() for _ in row),
        ),
        list(row.values()),
    )


def _seed(conn: psycopg.Connection, s: Seed) -> None:
    rows: list[tuple[str, Row]] = [
        ("organizations", {"id": s.org, "name": f"Org {s.org}"}),
        ("user_profiles", {"id": s.user, "org_id": s.org, "role": "admin"}),
        (
            "message_templates",
            {
                "id": s.template,
                "org_id": s.org,
                "name": "Intro",
                "channel": "email",
                "subject": "Hello",
                "body_text": "Hello there",
                "created_by": s.user,
            },
        ),
        (
            "campaigns",
            {
                "id": s.campaign,
                "org_id": s.org,
                "name": "Spring hiring",
                "owner_id": s.user,
                "template_id": s.template,
            },
        ),
        ("contacts", {"id": s.contact, "org_id": s.org, "email": f"{s.contact}@example.com"}),
        ("contacts", {"id": s.spare_contact, "org_id": s.org, "lead_id": uuid.uuid4()}),
        (
            "campaign_contacts",
            {
                "id": s.campaign_contact,
                "org_id": s.org,
                "campaign_id": s.campaign,
                "contact_id": s.contact,
            },
        ),
        (
            "engagement_events",
            {
                "id": s.event,
                "org_id": s.org,
                "campaign_id": s.campaign,
                "campaign_contact_id": s.campaign_contact,
                "event_type": "email_sent",
            },
        ),
        (
            "suppressions",
            {
                "id": s.suppression,
                "org_id": s.org,
                "email": f"{s.suppression}@example.com",
                "reason": "unsubscribed",
                "campaign_id": s.campaign,
            },
        ),
        (
            "idempotency_keys",
            {
                "org_id": s.org,
                "user_id": s.user,
                "key": s.idempotency_key,
                "request_hash": "hash",
                "response_status": 201,
                "response_body": json.dumps({"id": str(s.campaign)}),
            },
        ),
    ]
    with conn.transaction():
        for table, row in rows:
            _insert(conn, table, row)


@pytest.fixture(scope="module")
def tenants(database_urls: DatabaseUrls) -> Tenants:
    seeded = Tenants(a=Seed(), b=Seed())
    with psycopg.connect(libpq_url(database_urls.owner), autocommit=True) as conn:
        _seed(conn, seeded.a)
        _seed(conn, seeded.b)
    return seeded


def _tenants_visible(conn: psycopg.Connection, table: TenantTable) -> set[uuid.UUID]:
    query = sql.SQL("SELECT DISTINCT {} FROM {}").format(
        sql.Identifier(table.tenant_column), sql.Identifier(table.name)
    )
    return {row[0] for row in conn.execute(query)}


def _count(conn: psycopg.Connection, table: TenantTable) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.name))
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _count_of_org(conn: psycopg.Connection, table: TenantTable, org_id: uuid.UUID) -> int:
    query = sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
        sql.Identifier(table.name), sql.Identifier(table.tenant_column)
    )
    row = conn.execute(query, [org_id]).fetchone()
    assert row is not None
    return int(row[0])


def _is_app_role(conn: psycopg.Connection) -> None:
    row = conn.execute("SELECT current_user").fetchone()
    assert row == (APP_ROLE,)


by_table = pytest.mark.parametrize("table", TABLES, ids=str)


@by_table
def test_app_role_without_org_sees_no_rows(
    as_app: psycopg.Connection, tenants: Tenants, table: TenantTable
) -> None:
    _is_app_role(as_app)
    with as_app.transaction():
        assert _count(as_app, table) == 0


@by_table
def test_app_role_with_org_sees_only_that_orgs_rows(
    as_app: psycopg.Connection,
    as_owner: psycopg.Connection,
    tenants: Tenants,
    table: TenantTable,
) -> None:
    with as_app.transaction():
        set_org(as_app, tenants.a.org)
        assert _tenants_visible(as_app, table) == {tenants.a.org}
        assert _count(as_app, table) == _count_of_org(as_owner, table, tenants.a.org)
    with as_app.transaction():
        set_org(as_app, tenants.b.org)
        assert _tenants_visible(as_app, table) == {tenants.b.org}


@by_table
def test_app_role_cannot_insert_a_row_for_another_org(
    as_app: psycopg.Connection, tenants: Tenants, table: TenantTable
) -> None:
    with as_app.transaction(force_rollback=True):
        set_org(as_app, tenants.a.org)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=RLS_VIOLATION):
            _insert(as_app, table.name, table.new_row(tenants.b))


@pytest.mark.parametrize("table", [t for t in TABLES if t.name != "organizations"], ids=str)
def test_app_role_can_insert_a_row_for_its_own_org(
    as_app: psycopg.Connection, tenants: Tenants, table: TenantTable
) -> None:
    """The refusal above is the policy's doing: the same kind of row for A is accepted."""
    with as_app.transaction(force_rollback=True):
        set_org(as_app, tenants.a.org)
        _insert(as_app, table.name, table.new_row(tenants.a))


@by_table
def test_app_role_cannot_move_its_row_to_another_org(
    as_app: psycopg.Connection, tenants: Tenants, table: TenantTable
) -> None:
    statement = sql.SQL("UPDATE {table} SET {tenant} = %s WHERE {key} = %s").format(
        table=sql.Identifier(table.name),
        tenant=sql.Identifier(table.tenant_column),
        key=sql.Identifier(table.key_column),
    )
    with as_app.transaction(force_rollback=True):
        set_org(as_app, tenants.a.org)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=RLS_VIOLATION):
            as_app.execute(statement, [tenants.b.org, table.key_of(tenants.a)])


@by_table
def test_app_role_cannot_update_or_delete_another_orgs_rows(
    as_app: psycopg.Connection,
    as_owner: psycopg.Connection,
    tenants: Tenants,
    table: TenantTable,
) -> None:
    tenant = sql.Identifier(table.tenant_column)
    name = sql.Identifier(table.name)
    update = sql.SQL("UPDATE {} SET {} = {} WHERE {} = %s").format(name, tenant, tenant, tenant)
    delete = sql.SQL("DELETE FROM {} WHERE {} = %s").format(name, tenant)
    before = _count_of_org(as_owner, table, tenants.b.org)
    with as_app.transaction(force_rollback=True):
        set_org(as_app, tenants.a.org)
        assert as_app.execute(update, [tenants.b.org]).rowcount == 0
        assert as_app.execute(delete, [tenants.b.org]).rowcount == 0
    assert before >= 1
    assert _count_of_org(as_owner, table, tenants.b.org) == before


@by_table
def test_tenant_table_forces_row_level_security(
    as_owner: psycopg.Connection, table: TenantTable
) -> None:
    row = as_owner.execute(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass",
        [table.name],
    ).fetchone()
    assert row == (True, True)
    policies = as_owner.execute(
        "SELECT policyname, qual, with_check FROM pg_policies "
        "WHERE schemaname = 'public' AND tablename = %s",
        [table.name],
    ).fetchall()
    assert [p[0] for p in policies] == ["tenant_isolation"]
    _, using, check = policies[0]
    # fail closed on '' (nullif), and evaluated once per query (the SELECT wrapper)
    assert "( select (nullif(current_setting('app.org_id'::text, true), ''::text))" in (
        using.lower()
    )
    assert using == check


def _unprotected_tables_with_org_id(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') "
        "AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid "
        "            AND a.attname = 'org_id' AND NOT a.attisdropped) "
        "AND NOT (c.relrowsecurity AND c.relforcerowsecurity "
        "         AND EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid))"
    )
    return {row[0] for row in rows}


def test_every_table_with_an_org_id_is_protected(as_owner: psycopg.Connection) -> None:
    """A tenant table added later without forced RLS and a policy is caught here."""
    assert _unprotected_tables_with_org_id(as_owner) == set()


def test_a_tenant_table_without_forced_rls_would_be_caught(as_owner: psycopg.Connection) -> None:
    with as_owner.transaction(force_rollback=True):
        as_owner.execute("CREATE TABLE careless (org_id uuid)")
        as_owner.execute("CREATE TABLE half_done (org_id uuid)")
        as_owner.execute("ALTER TABLE half_done ENABLE ROW LEVEL SECURITY")
        as_owner.execute("CREATE POLICY p ON half_done USING (true)")
        assert _unprotected_tables_with_org_id(as_owner) == {"careless", "half_done"}


def _definer_views_over_tenant_tables(conn: psycopg.Connection) -> set[str]:
    """Views (and materialized views) reading a table with RLS, run with their owner's rights."""
    rows = conn.execute(
        "SELECT DISTINCT v.relname FROM pg_class v "
        "JOIN pg_namespace n ON n.oid = v.relnamespace "
        "JOIN pg_rewrite r ON r.ev_class = v.oid "
        "JOIN pg_depend d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass "
        "     AND d.refclassid = 'pg_class'::regclass "
        "JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid AND t.relrowsecurity "
        "WHERE n.nspname = 'public' AND v.relkind IN ('v', 'm') "
        "AND NOT coalesce('security_invoker=true' = ANY (v.reloptions), false)"
    )
    return {row[0] for row in rows}


def test_every_view_over_tenant_tables_is_security_invoker(as_owner: psycopg.Connection) -> None:
    assert _definer_views_over_tenant_tables(as_owner) == set()


def test_a_definer_view_over_a_tenant_table_would_be_caught(as_owner: psycopg.Connection) -> None:
    with as_owner.transaction(force_rollback=True):
        as_owner.execute("CREATE VIEW leaky_campaigns AS SELECT id, org_id FROM campaigns")
        as_owner.execute(
            "CREATE VIEW safe_campaigns WITH (security_invoker = true) AS "
            "SELECT id, org_id FROM campaigns"
        )
        assert _definer_views_over_tenant_tables(as_owner) == {"leaky_campaigns"}


def test_app_role_is_not_superuser_and_cannot_bypass_rls(as_app: psycopg.Connection) -> None:
    row = as_app.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False)


def test_app_role_owns_no_table(as_owner: psycopg.Connection) -> None:
    owned = as_owner.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = %s",
        [APP_ROLE],
    ).fetchall()
    assert owned == []


def test_org_set_in_one_transaction_is_gone_in_the_next(
    as_app: psycopg.Connection, tenants: Tenants
) -> None:
    campaigns = TABLES[3]
    assert campaigns.name == "campaigns"
    with as_app.transaction():
        set_org(as_app, tenants.a.org)
        assert _tenants_visible(as_app, campaigns) == {tenants.a.org}
    with as_app.transaction():
        # after a transaction-local set_config the setting reads '' for the rest of the
        # session; the policy's nullif turns that into "no org", not an invalid uuid
        row = as_app.execute("SELECT current_setting('app.org_id', true)").fetchone()
        assert row == ("",)
        assert _count(as_app, campaigns) == 0


@by_table
def test_without_row_level_security_the_app_role_would_see_other_orgs(
    as_owner: psycopg.Connection, tenants: Tenants, table: TenantTable
) -> None:
    """The tests above fail when the policy is gone: they prove the policy, not luck."""
    with as_owner.transaction(force_rollback=True):
        as_owner.execute(
            sql.SQL("DROP POLICY tenant_isolation ON {}").format(sql.Identifier(table.name))
        )
        as_owner.execute(
            sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(sql.Identifier(table.name))
        )
        as_owner.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
        _is_app_role(as_owner)
        set_org(as_owner, tenants.a.org)
        assert {tenants.a.org, tenants.b.org} <= _tenants_visible(as_owner, table)
    # rolled back: the policy is back in force
    row = as_owner.execute(
        "SELECT count(*) FROM pg_policies WHERE tablename = %s AND policyname = 'tenant_isolation'",
        [table.name],
    ).fetchone()
    assert row == (1,)
