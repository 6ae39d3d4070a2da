"""The time zones the API accepts: IANA names the database's own tz database lists.

Sending windows, daily lead limits, end dates and timeseries buckets are computed in SQL, with
PostgreSQL's tz database, not Python's: a zone only Python knows (one newer than the server's
tz database, `localtime` of the machine) would fail every query that uses it. So the names are
those of `pg_timezone_names`, read once per process at startup (`load`), keeping only IANA zone
and link names: a tz directory also holds `posixrules` and `localtime` (files, not zones),
`posix/` and `right/` copies of the database, and the `Factory` placeholder.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_NOT_ZONES = frozenset({"posixrules", "localtime", "Factory"})
_COPIES = ("posix/", "right/")

_known: frozenset[str] | None = None


class TimeZonesNotLoaded(RuntimeError):
    """A zone was checked before `load` ran: the process skipped its startup."""


def is_iana_name(name: str) -> bool:
    """Whether a name of a tz directory is an IANA zone or link (`Europe/Paris`, `UTC`)."""
    return name not in _NOT_ZONES and not name.startswith(_COPIES)


async def load(connection: AsyncConnection) -> None:
    """Read the database's time zones; called once at startup, before any request."""
    global _known  # one list per process: pydantic's validators are synchronous
    names = await connection.scalars(text("SELECT name FROM pg_timezone_names"))
    _known = frozenset(name for name in names if is_iana_name(name))


def is_known(name: str) -> bool:
    """Whether the API accepts `name` as a time zone (exactly as written: `Europe/Paris`)."""
    if _known is None:
        raise TimeZonesNotLoaded("time zones are read at startup: kit.timezones.load")
    return name in _known
