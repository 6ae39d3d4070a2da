"""A PostgreSQL server of a test's own, which the test may stop and start: the session's server
is shared by every test and must never stop."""

import warnings
from pathlib import Path

with warnings.catch_warnings():
    # pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: harmless
    warnings.simplefilter("ignore")
    from pgserver import _commands
    from pgserver.postgres_server import PostgresServer, get_server


class PrivatePostgres:
    """An embedded server in `directory` (pgserver, as the service's own embedded one)."""

    def __init__(self, directory: Path) -> None:
        self._server = get_server(directory / "pg", cleanup_mode="delete")

    def url(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        """A fast shutdown, as an operator's restart: sessions are ended, the socket goes."""
        _commands.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self._server.pgdata, user=self._server.system_user
        )

    def start(self) -> None:
        with PostgresServer._lock:
            self._server.ensure_postgres_running()

    def close(self) -> None:
        self._server.cleanup()
