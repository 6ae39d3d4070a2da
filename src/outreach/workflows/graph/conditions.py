"""Condition nodes' vocabulary (the fields, operators and values a `Condition` may use) and the
problems a condition has before it is ever evaluated; the engine evaluates them
(engine/conditions.py). Here, below both, so canvas validation and the engine share one reading.
"""

import math
import re
from datetime import date, datetime
from typing import Any

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

# A number written as text: digits, an optional sign and fraction (not "1e5", "1_000", "inf").
_NUMBER_TEXT = re.compile(r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,15})?")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_number(value: Any) -> float | None:
    """A finite number, or text that holds one; else None."""
    if is_number(value):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
        return float(value)
    return None


def as_date(value: Any) -> date | None:
    """A date, a datetime's date, or an ISO date in text; else None."""
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


def is_list_of(value: Any, kind: type) -> bool:
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
                if not is_list_of(value, str) or not value:
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
                isinstance(item, str) and as_date(item) is not None for item in items
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
    elif any(as_number(item) is None or isinstance(item, str) for item in items):
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
        isinstance(value, bool) or (as_number(value) is None and as_date(value) is None)
    ):
        problems.append(f"{where}: operator {op} compares numbers or ISO dates")
    elif op == "contains" and not isinstance(value, str):
        problems.append(f"{where}: contains needs a text `value`")


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)
