"""Times from outside, read as UTC. An offset can carry a valid local time out of the range a
datetime holds once in UTC (9999-12-31T23:59-23:59, 0001-01-01T00:00+23:59): that is a field
error (DATETIME_OUT_OF_RANGE) where the time comes in, never an OverflowError later."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

DATETIME_OUT_OF_RANGE = "DATETIME_OUT_OF_RANGE"


def to_utc(moment: datetime) -> datetime:
    """Raises a ValueError (pydantic's, with its code) for a time UTC cannot hold."""
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise PydanticCustomError(
            DATETIME_OUT_OF_RANGE,
            "{moment} is out of range in UTC (years 1 to 9999)",
            {"moment": moment.isoformat()},
        ) from exc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
