"""Condition nodes: what a contact's facts say about a `Condition` (schemas.py holds its
meaning), and the problems a condition has before it is ever evaluated.

Evaluation is pure and never raises: a comparison between values of mismatched types, or a
condition the validator would have refused, is false, so one contact's odd custom field sends
it down the false edge instead of failing its enrollment.
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from outreach.workflows.graph.schemas import Condition, Operator

# Contact fields a condition may read (`custom.<name>` reads a custom field).
CONTACT_FIELDS = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "company_name",
        "title",
        "phone",
        "linkedin_url",
        "lead_tier",
        "timezone",
    }
)
CUSTOM_PREFIX = "custom."
TIME_FIELDS = frozenset({"hour", "weekday", "date", "hours_since_enrolled"})
# Composites nest at most this deep (the schema bounds the width, 20 per level): a canvas is
# tenant input, and its evaluation runs for every contact that reaches the node.
MAX_DEPTH = 5

ORDERING: frozenset[Operator] = frozenset({">", "<", ">=", "<="})
EQUALITY: frozenset[Operator] = frozenset({"==", "!="})


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
    if operator == "in" and _is_list_of(value, str):
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
    if _is_number(actual) or _is_number(expected):
        left_number, right_number = _number(actual), _number(expected)
        if left_number is None or right_number is None:
            return None
        return left_number, right_number
    left_date, right_date = _date(actual), _date(expected)
    if left_date is not None and right_date is not None:
        return left_date, right_date
    if isinstance(actual, str) and isinstance(expected, str) and not ordered:
        return actual.casefold(), expected.casefold()
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# A number written as text: digits, an optional sign and fraction (not "1e5", "1_000", "inf").
_NUMBER_TEXT = re.compile(r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def _number(value: Any) -> float | None:
    if _is_number(value):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return float(value)
    return None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            return None
    return None


def _is_list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


# -- validation ---------------------------------------------------------------------------


def is_field_name(name: str) -> bool:
    """A contact field a condition may read: one of CONTACT_FIELDS, or `custom.<name>`."""
    if name.startswith(CUSTOM_PREFIX):
        return len(name) > len(CUSTOM_PREFIX)
    return name in CONTACT_FIELDS


def validate_condition(condition: Condition) -> list[str]:
    """Each problem of `condition` (and of its sub-conditions) as a sentence; none: it can be
    evaluated as written."""
    problems: list[str] = []
    _validate(condition, "condition", 1, problems)
    return problems


def _validate(condition: Condition, where: str, depth: int, problems: list[str]) -> None:
    op, value = condition.operator, condition.value
    match condition.type:
        case "field":
            if condition.field is None:
                problems.append(f"{where}: a field condition needs `field`")
            elif not is_field_name(condition.field):
                problems.append(
                    f"{where}: unknown field {condition.field!r} (one of "
                    f"{', '.join(sorted(CONTACT_FIELDS))}, or custom.<name>)"
                )
            _check_value(where, op, value, problems)
        case "score":
            _check_number(where, "score", op, value, problems)
        case "tag":
            if op in ("==", "!=", "contains"):
                if not isinstance(value, str) or not value.strip():
                    problems.append(f"{where}: a tag condition needs the tag as `value`")
            elif op == "in":
                if not _is_list_of(value, str) or not value:
                    problems.append(f"{where}: `in` needs a list of tags as `value`")
            else:
                problems.append(
                    f"{where}: operator {op} makes no sense for a tag (use ==, !=, contains, in)"
                )
        case "event":
            if condition.event_type is None:
                problems.append(f"{where}: an event condition needs `event_type`")
            _check_number(where, "an event count", op, value, problems)
        case "time":
            _validate_time(condition, where, problems)
        case "composite":
            if condition.logic is None:
                problems.append(f"{where}: a composite condition needs `logic` (AND or OR)")
            if not condition.sub_conditions:
                problems.append(f"{where}: a composite condition needs `sub_conditions`")
            elif depth >= MAX_DEPTH:
                problems.append(f"{where}: conditions nest at most {MAX_DEPTH} deep")
            else:
                for index, sub in enumerate(condition.sub_conditions):
                    _validate(sub, f"{where}.sub_conditions.{index}", depth + 1, problems)


def _validate_time(condition: Condition, where: str, problems: list[str]) -> None:
    op, value = condition.operator, condition.value
    match condition.field:
        case None:
            problems.append(f"{where}: a time condition needs `field`")
        case "hour" | "weekday":
            low, high = (0, 23) if condition.field == "hour" else (1, 7)
            items = value if op == "in" and isinstance(value, list) else [value]
            if op == "contains":
                problems.append(f"{where}: operator contains makes no sense for {condition.field}")
            elif op == "in" and not isinstance(value, list):
                problems.append(f"{where}: `in` needs a list as `value`")
            elif not items or not all(
                isinstance(item, int) and not isinstance(item, bool) and low <= item <= high
                for item in items
            ):
                problems.append(
                    f"{where}: {condition.field} compares with whole numbers {low} to {high}"
                )
        case "date":
            items = value if op == "in" and isinstance(value, list) else [value]
            if op == "contains":
                problems.append(f"{where}: operator contains makes no sense for a date")
            elif op == "in" and not isinstance(value, list):
                problems.append(f"{where}: `in` needs a list as `value`")
            elif not items or not all(
                isinstance(item, str) and _date(item) is not None for item in items
            ):
                problems.append(f"{where}: date compares with ISO dates (2026-12-01)")
        case "hours_since_enrolled":
            _check_number(where, "hours_since_enrolled", op, value, problems)
        case other:
            problems.append(
                f"{where}: unknown time field {other!r} (one of {', '.join(sorted(TIME_FIELDS))})"
            )


def _check_number(where: str, what: str, op: Operator, value: Any, problems: list[str]) -> None:
    if op == "contains":
        problems.append(f"{where}: operator contains makes no sense for {what}")
        return
    items = value if op == "in" else [value]
    if op == "in" and (not isinstance(value, list) or not value):
        problems.append(f"{where}: `in` needs a list of numbers as `value`")
    elif any(_number(item) is None or isinstance(item, str) for item in items):
        problems.append(f"{where}: {what} compares with a number `value`")


def _check_value(where: str, op: Operator, value: Any, problems: list[str]) -> None:
    """A contact field's `value`: fields have no declared type, so the value says what kind
    of comparison is meant, and the operator must suit it."""
    if op == "in":
        if not isinstance(value, list) or not value or not all(map(_is_scalar, value)):
            problems.append(f"{where}: `in` needs a non-empty list of texts or numbers")
    elif value is None:
        if op not in EQUALITY:
            problems.append(f"{where}: operator {op} needs a `value`")
    elif not _is_scalar(value):
        problems.append(f"{where}: `value` must be a text, a number or true / false")
    elif op in ORDERING and (
        isinstance(value, bool) or (_number(value) is None and _date(value) is None)
    ):
        problems.append(f"{where}: operator {op} compares numbers or ISO dates")
    elif op == "contains" and not isinstance(value, str):
        problems.append(f"{where}: contains needs a text `value`")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
