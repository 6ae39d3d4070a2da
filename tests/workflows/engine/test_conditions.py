"""Condition nodes' rules (Condition in workflows/graph/schemas.py), one test per rule."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest

from outreach.workflows.engine.conditions import Facts, evaluate
from outreach.workflows.graph.conditions import MAX_DEPTH, validate_condition
from outreach.workflows.graph.schemas import Condition

NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # a Monday


def facts(
    fields: Mapping[str, Any] | None = None,
    *,
    score: int = 0,
    tags: Sequence[str] = (),
    events: Mapping[str, Sequence[datetime]] | None = None,
    zone: str = "UTC",
    enrolled_at: datetime = NOW - timedelta(hours=50),
) -> Facts:
    return Facts(
        fields=fields or {},
        score=score,
        tags=frozenset(tags),
        events=events or {},
        now=NOW,
        zone=ZoneInfo(zone),
        enrolled_at=enrolled_at,
    )


def field(name: str, operator: str, value: Any) -> Condition:
    return Condition.model_validate(
        {"type": "field", "field": name, "operator": operator, "value": value}
    )


def of(type_: str, operator: str, value: Any, **extra: Any) -> Condition:
    return Condition.model_validate({"type": type_, "operator": operator, "value": value, **extra})


def composite(logic: Literal["AND", "OR"] | None, *subs: Condition) -> Condition:
    return Condition(type="composite", logic=logic, sub_conditions=list(subs))


TRUE = of("score", ">=", 0)
FALSE = of("score", "<", 0)


# -- fields ---------------------------------------------------------------------------------


def test_field_equality_ignores_case() -> None:
    assert evaluate(field("company_name", "==", "acme"), facts({"company_name": "ACME"}))
    assert not evaluate(field("company_name", "==", "acme"), facts({"company_name": "Acme Inc"}))


def test_field_inequality_is_the_negation_for_matching_types() -> None:
    assert evaluate(field("title", "!=", "CTO"), facts({"title": "CEO"}))
    assert not evaluate(field("title", "!=", "cto"), facts({"title": "CTO"}))


def test_field_contains_finds_text_ignoring_case() -> None:
    assert evaluate(field("title", "contains", "engineer"), facts({"title": "Senior Engineer"}))
    assert not evaluate(field("title", "contains", "sales"), facts({"title": "Senior Engineer"}))


def test_contains_on_a_list_field_looks_for_the_item() -> None:
    given = facts({"custom.skills": ["Python", "Go"]})
    assert evaluate(field("custom.skills", "contains", "python"), given)
    assert not evaluate(field("custom.skills", "contains", "rust"), given)


def test_field_in_matches_any_listed_value() -> None:
    assert evaluate(field("lead_tier", "in", ["tier_1", "TIER_2"]), facts({"lead_tier": "tier_2"}))
    assert not evaluate(field("lead_tier", "in", ["tier_1"]), facts({"lead_tier": "tier_3"}))


def test_in_with_a_value_that_is_not_a_list_is_false() -> None:
    assert not evaluate(field("lead_tier", "in", "tier_1"), facts({"lead_tier": "tier_1"}))


def test_custom_fields_are_read_by_their_prefixed_name() -> None:
    assert evaluate(field("custom.team", "==", "Data"), facts({"custom.team": "data"}))


def test_numbers_written_as_text_compare_as_numbers() -> None:
    assert evaluate(field("custom.employees", ">", 50), facts({"custom.employees": "120"}))
    assert evaluate(field("custom.employees", "==", 120), facts({"custom.employees": "120.0"}))
    assert not evaluate(field("custom.employees", "<", 50), facts({"custom.employees": "120"}))


def test_text_that_only_looks_numeric_to_python_is_not_a_number() -> None:
    for text in ("1e3", "1_000", "inf", "nan"):
        assert not evaluate(field("custom.n", ">", 1), facts({"custom.n": text})), text


def test_mismatched_types_are_false_both_ways() -> None:
    given = facts({"custom.n": "many", "custom.flag": True})
    for operator in ("==", "!=", ">", "<", ">=", "<="):
        assert not evaluate(field("custom.n", operator, 5), given), operator
    assert not evaluate(field("custom.flag", "==", 1), given)
    assert not evaluate(field("custom.flag", "!=", 1), given)


def test_booleans_compare_by_equality_only() -> None:
    given = facts({"custom.vip": True})
    assert evaluate(field("custom.vip", "==", True), given)
    assert evaluate(field("custom.vip", "!=", False), given)
    assert not evaluate(field("custom.vip", ">", False), given)


def test_text_is_not_ordered() -> None:
    assert not evaluate(field("last_name", ">", "a"), facts({"last_name": "Zola"}))


def test_iso_dates_compare_as_dates() -> None:
    given = facts({"custom.renewal": "2026-12-05"})
    assert evaluate(field("custom.renewal", ">", "2026-11-30"), given)
    assert evaluate(field("custom.renewal", "==", "2026-12-05T10:00:00"), given)
    assert not evaluate(field("custom.renewal", "<", "2026-09-01"), given)


def test_an_absent_field_equals_null_and_nothing_else() -> None:
    given = facts({"phone": ""})
    assert evaluate(field("phone", "==", None), given)
    assert evaluate(field("email", "==", None), given)
    assert not evaluate(field("email", "==", "a@b.c"), given)
    assert not evaluate(field("email", "!=", "a@b.c"), given)
    assert evaluate(field("email", "!=", None), facts({"email": "a@b.c"}))


def test_an_unknown_field_is_false() -> None:
    assert not evaluate(field("salary", "==", None), facts({"salary": None}))


# -- score, tags, events --------------------------------------------------------------------


def test_score_compares_as_a_number() -> None:
    assert evaluate(of("score", ">=", 50), facts(score=50))
    assert not evaluate(of("score", ">", 50), facts(score=50))
    assert not evaluate(of("score", ">", "lots"), facts(score=50))


def test_tag_equality_asks_whether_the_contact_has_it_ignoring_case() -> None:
    assert evaluate(of("tag", "==", "hot"), facts(tags=["Hot", "cto"]))
    assert not evaluate(of("tag", "==", "cold"), facts(tags=["Hot"]))


def test_tag_inequality_asks_whether_the_contact_lacks_it() -> None:
    assert evaluate(of("tag", "!=", "cold"), facts(tags=["hot"]))
    assert not evaluate(of("tag", "!=", "hot"), facts(tags=["hot"]))


def test_tag_in_asks_for_any_of_the_tags() -> None:
    assert evaluate(of("tag", "in", ["vip", "hot"]), facts(tags=["hot"]))
    assert not evaluate(of("tag", "in", ["vip"]), facts(tags=["hot"]))


def test_event_counts_every_event_of_the_type_without_a_window() -> None:
    opened = [NOW - timedelta(days=30), NOW - timedelta(days=40)]
    assert evaluate(of("event", ">=", 2, event_type="opened"), facts(events={"opened": opened}))


def test_event_counts_only_the_window_when_given() -> None:
    opened = [NOW - timedelta(hours=2), NOW - timedelta(hours=30)]
    given = facts(events={"opened": opened})
    assert evaluate(of("event", "==", 1, event_type="opened", time_window=24), given)
    assert evaluate(of("event", "==", 2, event_type="opened", time_window=48), given)


def test_no_event_of_the_type_counts_zero() -> None:
    given = facts(events={"opened": [NOW]})
    assert evaluate(of("event", "==", 0, event_type="clicked"), given)
    assert not evaluate(of("event", ">=", 1, event_type="clicked"), given)


# -- time -----------------------------------------------------------------------------------


def test_hour_is_read_in_the_contacts_zone() -> None:
    assert evaluate(of("time", "==", 9, field="hour"), facts())
    assert evaluate(of("time", "==", 18, field="hour"), facts(zone="Asia/Tokyo"))


def test_weekday_counts_monday_as_one() -> None:
    assert evaluate(of("time", "==", 1, field="weekday"), facts())
    assert evaluate(of("time", "in", [6, 7], field="weekday"), facts(zone="Pacific/Pago_Pago"))


def test_date_is_the_local_date_compared_as_an_iso_date() -> None:
    assert evaluate(of("time", "==", "2026-11-30", field="date"), facts())
    assert evaluate(of("time", "<", "2026-11-30", field="date"), facts(zone="Pacific/Pago_Pago"))


def test_hours_since_enrolled_counts_fractional_hours() -> None:
    given = facts(enrolled_at=NOW - timedelta(hours=47, minutes=30))
    assert evaluate(of("time", ">", 47, field="hours_since_enrolled"), given)
    assert not evaluate(of("time", ">=", 48, field="hours_since_enrolled"), given)


def test_an_unknown_time_field_is_false() -> None:
    assert not evaluate(of("time", "!=", 3, field="minute"), facts())


# -- composites -----------------------------------------------------------------------------


def test_and_needs_every_sub_condition() -> None:
    assert evaluate(composite("AND", TRUE, TRUE), facts())
    assert not evaluate(composite("AND", TRUE, FALSE), facts())


def test_or_needs_one_sub_condition() -> None:
    assert evaluate(composite("OR", FALSE, TRUE), facts())
    assert not evaluate(composite("OR", FALSE, FALSE), facts())


def test_composites_nest() -> None:
    assert evaluate(composite("AND", TRUE, composite("OR", FALSE, composite("AND", TRUE))), facts())
    assert not evaluate(
        composite("AND", TRUE, composite("OR", FALSE, composite("AND", FALSE))), facts()
    )


def deep(levels: int) -> Condition:
    condition = TRUE
    for _ in range(levels):
        condition = composite("AND", condition)
    return condition


def test_composites_deeper_than_the_bound_are_false() -> None:
    assert evaluate(deep(MAX_DEPTH - 1), facts())
    assert not evaluate(deep(MAX_DEPTH), facts())


def test_a_composite_without_sub_conditions_or_logic_is_false() -> None:
    assert not evaluate(composite("AND"), facts())
    assert not evaluate(composite(None, TRUE), facts())


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        field("custom.team", "==", "data"),
        field("email", "==", None),
        field("lead_tier", "in", ["tier_1"]),
        field("custom.renewal", ">", "2026-12-01"),
        of("score", ">=", 10),
        of("tag", "!=", "cold"),
        of("event", ">=", 1, event_type="clicked", time_window=72),
        of("time", "in", [1, 2, 3], field="weekday"),
        of("time", ">=", "2026-12-01", field="date"),
        composite("OR", of("tag", "==", "hot"), composite("AND", TRUE)),
    ],
)
def test_a_sound_condition_has_no_problems(condition: Condition) -> None:
    assert validate_condition(condition) == []


def problems(condition: Condition) -> str:
    found = validate_condition(condition)
    assert len(found) == 1, found
    return found[0]


def test_an_unknown_field_name_is_a_problem() -> None:
    assert "unknown field 'salary'" in problems(field("salary", "==", 1))
    assert "unknown field 'custom.'" in problems(field("custom.", "==", 1))


def test_a_field_condition_without_field_is_a_problem() -> None:
    assert "needs `field`" in problems(of("field", "==", 1))


def test_a_missing_value_is_a_problem() -> None:
    assert "needs a `value`" in problems(field("title", "contains", None))
    assert "number" in problems(of("score", ">", None))


def test_an_ordering_on_text_is_a_problem() -> None:
    assert "compares numbers or ISO dates" in problems(field("last_name", ">", "m"))


def test_in_without_a_list_is_a_problem() -> None:
    assert "`in` needs" in problems(field("title", "in", "CTO"))
    assert "`in` needs" in problems(of("score", "in", 3))


def test_an_object_value_is_a_problem() -> None:
    assert "must be a text" in problems(field("title", "==", {"a": 1}))


def test_an_operator_that_makes_no_sense_for_tags_is_a_problem() -> None:
    assert "makes no sense for a tag" in problems(of("tag", ">", "hot"))


def test_contains_on_a_number_is_a_problem() -> None:
    assert "contains makes no sense" in problems(of("score", "contains", 3))


def test_an_event_condition_without_event_type_is_a_problem() -> None:
    assert "needs `event_type`" in problems(of("event", ">=", 1))


def test_time_fields_must_be_known_and_in_range() -> None:
    assert "unknown time field 'minute'" in problems(of("time", "==", 3, field="minute"))
    assert "0 to 23" in problems(of("time", "==", 24, field="hour"))
    assert "1 to 7" in problems(of("time", "in", [0, 1], field="weekday"))
    assert "ISO dates" in problems(of("time", "==", "tomorrow", field="date"))


def test_a_composite_without_logic_or_sub_conditions_is_a_problem() -> None:
    assert "needs `logic`" in problems(composite(None, TRUE))
    assert "needs `sub_conditions`" in problems(composite("AND"))


def test_problems_of_sub_conditions_name_their_place() -> None:
    nested = composite("AND", TRUE, composite("OR", of("tag", "<", "x")))
    assert problems(nested).startswith("condition.sub_conditions.1.sub_conditions.0:")


def test_nesting_beyond_the_bound_is_a_problem() -> None:
    assert validate_condition(deep(MAX_DEPTH - 1)) == []
    assert "nest at most" in problems(deep(MAX_DEPTH))
