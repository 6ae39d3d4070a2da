"""Condition nodes: what a contact's facts say about a `Condition` (schemas.py holds its
meaning; graph/conditions.py its vocabulary and validation).

Evaluation is pure and never raises: a comparison between values of mismatched types, or a
condition the validator would have refused, is false, so one contact's odd custom field sends
it down the false edge instead of failing its enrollment.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from outreach.workflows.graph.conditions import (
    EQUALITY,
    MAX_DEPTH,
    as_date,
    as_number,
    is_field_name,
    is_list_of,
    is_number,
)
from outreach.workflows.graph.schemas import Condition, Operator


@dataclass(frozen=True)
class Facts:
    """What is known of one campaign contact when a condition is evaluated."""

    fields: Mapping[str, Any]  # contact fields by name, custom fields as "custom.<name>"
    score: int
    tags: frozenset[str]
    # Human events in this campaign by the Condition.event_type name, newest first.
    events: Mapping[str, Sequence[datetime]]
    now: datetime
    zone: ZoneInfo  # the contact's zone, else the campaign's, else UTC
    enrolled_at: datetime


def evaluate(condition: Condition, facts: Facts) -> bool:
    """Whether `condition` holds for `facts`."""
    return _evaluate(condition, facts, 1)


def _evaluate(condition: Condition, facts: Facts, depth: int) -> bool:
    match condition.type:
        case "field":
            if condition.field is None or not is_field_name(condition.field):
                return False
            return compare(facts.fields.get(condition.field), condition.operator, condition.value)
        case "score":
            return compare(facts.score, condition.operator, condition.value)
        case "tag":
            return _has_tag(facts.tags, condition.operator, condition.value)
        case "event":
            if condition.event_type is None:
                return False
            count = _event_count(facts, condition.event_type, condition.time_window)
            return compare(count, condition.operator, condition.value)
        case "time":
            moment = _time_fact(condition.field, facts)
            return moment is not None and compare(moment, condition.operator, condition.value)
        case "composite":
            subs = condition.sub_conditions
            if not subs or condition.logic is None or depth >= MAX_DEPTH:
                return False
            results = (_evaluate(sub, facts, depth + 1) for sub in subs)
            return all(results) if condition.logic == "AND" else any(results)
    assert_never(condition.type)


def _has_tag(tags: frozenset[str], operator: Operator, value: Any) -> bool:
    folded = {tag.casefold() for tag in tags}
    if operator in ("==", "contains", "!=") and isinstance(value, str):
        found = value.casefold() in folded
        return not found if operator == "!=" else found
    if operator == "in" and is_list_of(value, str):
        return any(item.casefold() in folded for item in value)
    return False


def _event_count(facts: Facts, event_type: str, window_hours: float | None) -> int:
    moments = facts.events.get(event_type, ())
    if window_hours is None:
        return len(moments)
    since = facts.now - timedelta(hours=window_hours)
    return sum(1 for moment in moments if moment >= since)


def _time_fact(field: str | None, facts: Facts) -> int | float | date | None:
    local = facts.now.astimezone(facts.zone)
    match field:
        case "hour":
            return local.hour
        case "weekday":
            return local.isoweekday()
        case "date":
            return local.date()
        case "hours_since_enrolled":
            return (facts.now - facts.enrolled_at).total_seconds() / 3600
    return None


# -- comparison ---------------------------------------------------------------------------


def compare(actual: Any, operator: Operator, expected: Any) -> bool:
    """`actual operator expected` under the conditions' rules: numbers (and strings that hold
    one: CSV imports make custom fields strings) compare as numbers, dates (and ISO date
    strings) as dates, other strings case-insensitively and only for equality, `contains` and
    `in`; `== null` / `!= null` ask whether the field is empty; anything else is false."""
    if operator == "in":
        return isinstance(expected, list) and any(_equal(actual, item) for item in expected)
    if operator == "contains":
        return _contains(actual, expected)
    if expected is None:
        if operator not in EQUALITY:
            return False
        empty = actual is None or actual == "" or actual == []
        return empty if operator == "==" else not empty
    if operator in EQUALITY:
        pair = _comparable(actual, expected, ordered=False)
        if pair is None:
            return False
        return bool(pair[0] == pair[1]) == (operator == "==")
    pair = _comparable(actual, expected, ordered=True)
    if pair is None:
        return False
    left, right = pair
    match operator:
        case ">":
            return bool(left > right)
        case "<":
            return bool(left < right)
        case ">=":
            return bool(left >= right)
        case "<=":
            return bool(left <= right)
    return False


def _equal(actual: Any, expected: Any) -> bool:
    pair = _comparable(actual, expected, ordered=False)
    return pair is not None and pair[0] == pair[1]


def _contains(actual: Any, expected: Any) -> bool:
    """Text in text (case-insensitive), or a value in a list (a custom field may hold one)."""
    if isinstance(actual, list):
        return any(_equal(item, expected) for item in actual)
    return (
        isinstance(actual, str)
        and isinstance(expected, str)
        and expected.casefold() in actual.casefold()
    )


def _comparable(actual: Any, expected: Any, *, ordered: bool) -> tuple[Any, Any] | None:
    """The two values in the one kind both can be read as, or None when they do not match."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        # bool is an int in Python; here it is its own kind, with equality only.
        if isinstance(actual, bool) and isinstance(expected, bool) and not ordered:
            return actual, expected
        return None
    if is_number(actual) or is_number(expected):
        left_number, right_number = as_number(actual), as_number(expected)
        if left_number is None or right_number is None:
            return None
        return left_number, right_number
    left_date, right_date = as_date(actual), as_date(expected)
    if left_date is not None and right_date is not None:
        return left_date, right_date
    if isinstance(actual, str) and isinstance(expected, str) and not ordered:
        return actual.casefold(), expected.casefold()
    return None
