"""Embedded PostgreSQL for local use: started under the data folder when DATABASE_URL is unset."""

import json
import logging
import os
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def start_embedded_postgres(data_dir: Path, database: str) -> str:
    """Start (or join) the embedded server and return a superuser URL to `database`."""
    with warnings.catch_warnings():
        # pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: harmless
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "postgres"
    _forget_dead_users(pgdata)
    log.info("starting embedded PostgreSQL in %s", pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    create_database_if_missing(server.get_uri("postgres"), database)
    return str(server.get_uri(database))


def create_database_if_missing(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        if not conn.execute(query, (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _forget_dead_users(pgdata: Path) -> None:
    """pgserver stops the server when its last user process exits, counting users in a pid
    file; a process killed by a signal never removes itself, and the server then outlives
    everyone. Drop such pids before joining."""
    pid_file = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(pid_file.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if _is_running(pid)]
    if alive != pids:
        pid_file.write_text(json.dumps(alive))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
