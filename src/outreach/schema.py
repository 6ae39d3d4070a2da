"""Migrations (Alembic) and the startup checks that the schema and the role are safe to use."""

import logging
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url, sqlalchemy_url

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class UnsafeDatabaseRole(RuntimeError):
    """The application's role could bypass row-level security."""


def alembic_config(urls: DatabaseUrls) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["owner_url"] = sqlalchemy_url(urls.owner)
    config.attributes["app_role"] = urls.app_role
    config.attributes["app_password"] = urls.app_password
    return config


def upgrade(urls: DatabaseUrls, revision: str = "head") -> None:
    command.upgrade(alembic_config(urls), revision)


def downgrade(urls: DatabaseUrls, revision: str = "base") -> None:
    command.downgrade(alembic_config(urls), revision)


def head_revision(urls: DatabaseUrls) -> str | None:
    return ScriptDirectory.from_config(alembic_config(urls)).get_current_head()


def check_app_role(app_url: str) -> None:
    """Refuse to run as a role that row-level security would not hold."""
    with psycopg.connect(libpq_url(app_url)) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row is not None
        user, is_superuser, bypasses_rls = row
        owned = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tableowner = current_user AND tablename <> 'alembic_version'"
        ).fetchone()
    if is_superuser or bypasses_rls or (owned and owned[0]):
        raise UnsafeDatabaseRole(
            f"The database role {user!r} in DATABASE_URL is a superuser, has BYPASSRLS or owns "
            "the tables, so row-level security would not separate organizations. Point "
            "DATABASE_URL at the application role (created by `outreach migrate`, default "
            "'outreach_app') and DATABASE_OWNER_URL at the schema owner."
        )
