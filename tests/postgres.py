"""A PostgreSQL server of a test's own, which the test may stop and start: the session's server
is shared by every test and must never stop."""

import shutil
import tempfile
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # pgserver falls back to /tmp for its lock file when XDG_RUNTIME_DIR is unset: harmless
    warnings.simplefilter("ignore")
    from pgserver import _commands
    from pgserver.postgres_server import PostgresServer, get_server


class PrivatePostgres:
    """An embedded server (pgserver, as the service's own) in a folder of its own.

    Not under pytest's temporary folder: as root, pgserver runs the server as another user,
    which must reach its folder, and every pytest session on the machine makes pytest's root
    folder private again.
    """

    def __init__(self) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="outreach-test-postgres-"))
        self._server = get_server(self._directory / "pg", cleanup_mode="delete")

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
        shutil.rmtree(self._directory, ignore_errors=True)
