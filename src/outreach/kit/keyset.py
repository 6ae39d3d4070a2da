"""Pages of rows in a keyset order: by a sort value, then id. The API's default order is newest
first (`created_at desc, id desc`); `page_by` and `key_after` take any other sort value."""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from outreach.kit.pagination import Page, decode_cursor, encode_cursor, invalid_cursor

Position = tuple[datetime, uuid.UUID]


class Keyed(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> uuid.UUID: ...


KeyedT = TypeVar("KeyedT", bound=Keyed)
RowT = TypeVar("RowT")
ItemT = TypeVar("ItemT")
ValueT = TypeVar("ValueT")


def key_after(
    cursor: str | None, parse: Callable[[str], ValueT]
) -> tuple[ValueT, uuid.UUID] | None:
    """The (sort value, id) a page starts after, the value read back by `parse`; None for the
    first page."""
    if cursor is None:
        return None
    value, row_id = decode_cursor(cursor, 2)
    try:
        return parse(str(value)), uuid.UUID(str(row_id))
    except (ValueError, ArithmeticError) as exc:
        raise invalid_cursor() from exc


def position_after(cursor: str | None) -> Position | None:
    """The (created_at, id) a page starts after; None for the first page."""
    return key_after(cursor, datetime.fromisoformat)


def page_by(
    rows: Sequence[RowT],
    limit: int,
    to_item: Callable[[RowT], ItemT],
    key: Callable[[RowT], tuple[Any, uuid.UUID]],
) -> Page[ItemT]:
    """A page from up to `limit + 1` rows: the extra row only tells that there is a next page,
    which starts after the `key` (sort value, id) of this page's last row."""
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        value, row_id = key(items[-1])
        next_cursor = encode_cursor(
            [value.isoformat() if isinstance(value, datetime) else value, str(row_id)]
        )
    return Page(items=[to_item(row) for row in items], next_cursor=next_cursor)


def page_of(rows: Sequence[KeyedT], limit: int, to_item: Callable[[KeyedT], ItemT]) -> Page[ItemT]:
    """A page of rows in the default order (created_at, id)."""
    return page_by(rows, limit, to_item, lambda row: (row.created_at, row.id))
