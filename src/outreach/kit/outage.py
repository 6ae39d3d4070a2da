"""Telling a database outage from other database errors, and logging it once per change.

While PostgreSQL is unreachable every request and job fails the same way; one line when it
goes and one when it is back tell an operator more than a traceback per request.
"""

import logging
import threading
import time

import psycopg
import psycopg_pool
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

# What a client is told to wait before trying again (Retry-After).
RETRY_AFTER_SECONDS = 5

# Server errors that mean "no session now" rather than "this statement failed": the server
# shuts down (57P01 admin, 57P02 crash), is starting or recovering (57P03), or has no
# connection slot left (53300). Class 08 is every connection exception.
_UNREACHABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (connection refused or reset, the
    server gone or shutting down, no pooled connection in time), not that a statement failed.
    """
    if isinstance(exc, PoolTimeout | psycopg_pool.PoolTimeout):
        return True
    cause: BaseException | None = exc
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:  # SQLAlchemy saw the connection break
            return True
        cause = exc.orig
    if not isinstance(cause, psycopg.OperationalError):
        return False
    # Without a SQLSTATE the error is libpq's own: the connection failed, broke or timed out.
    state = cause.sqlstate
    return state is None or state.startswith("08") or state in _UNREACHABLE_SQLSTATES


def _one_line(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return " ".join(str(cause).split())[:300] or type(cause).__name__


class OutageLog:
    """The process's view of the database: reachable, or unreachable since when. Each change
    is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the mail catcher reports from its own thread
        self._since: float | None = None

    @property
    def unreachable(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        """`exc` (an unreachable database, see is_unreachable) was seen."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.error("database unreachable: %s", _one_line(exc))

    def reached(self) -> None:
        """A connection to the database was made."""
        if self._since is None:
            return
        with self._lock:
            if self._since is None:
                return
            seconds, self._since = time.monotonic() - self._since, None
        log.warning("database reachable again after %.1f s", seconds)


outage = OutageLog()
