"""Pages of rows in the API's default order, newest first (`created_at desc, id desc`)."""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from outreach.kit.pagination import Page, decode_cursor, encode_cursor, invalid_cursor

Position = tuple[datetime, uuid.UUID]


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


RowT = TypeVar("RowT", bound=Keyed)
ItemT = TypeVar("ItemT")


def position_after(cursor: str | None) -> Position | None:
    """The (created_at, id) a page starts after; None for the first page."""
    if cursor is None:
        return None
    created_at, row_id = decode_cursor(cursor, 2)
    try:
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (TypeError, ValueError) as exc:
        raise invalid_cursor() from exc


def page_of(rows: Sequence[RowT], limit: int, to_item: Callable[[RowT], ItemT]) -> Page[ItemT]:
    """A page from up to `limit + 1` rows: the extra row only tells that there is a next page."""
    items = rows[:limit]
    next_cursor = (
        encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
        if len(rows) > limit
        else None
    )
    return Page(items=[to_item(row) for row in items], next_cursor=next_cursor)
