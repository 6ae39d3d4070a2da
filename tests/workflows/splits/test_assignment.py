"""Variant assignment at a split: by percentage, sticky, and the winner once declared."""

import uuid
from collections import Counter

from outreach.workflows.graph.schemas import Variant
from outreach.workflows.splits.assignment import assign_variant

IDS = [uuid.UUID(int=n * 7919 + 1) for n in range(1_000)]


def variants(**percentages: float) -> list[Variant]:
    return [Variant(id=name, percentage=share) for name, share in percentages.items()]


def test_contacts_split_within_a_few_percent_of_the_percentages() -> None:
    given = variants(a=50, b=30, c=20)
    counts = Counter(assign_variant(contact, "split", given) for contact in IDS)
    assert abs(counts["a"] - 500) <= 40
    assert abs(counts["b"] - 300) <= 40
    assert abs(counts["c"] - 200) <= 40


def test_random_ids_split_within_a_few_percent_too() -> None:
    given = variants(a=50, b=50)
    counts = Counter(assign_variant(uuid.uuid4(), "split", given) for _ in range(1_000))
    # 5 standard deviations of a fair coin over 1,000 draws: fails about once in 3 million runs.
    assert abs(counts["a"] - 500) <= 80


def test_the_same_contact_and_node_get_the_same_variant() -> None:
    given = variants(a=50, b=30, c=20)
    first = [assign_variant(contact, "split", given) for contact in IDS]
    assert [assign_variant(contact, "split", given) for contact in IDS] == first


def test_another_node_splits_the_same_contacts_independently() -> None:
    given = variants(a=50, b=50)
    at_one = [assign_variant(contact, "one", given) for contact in IDS]
    at_two = [assign_variant(contact, "two", given) for contact in IDS]
    agree = sum(a == b for a, b in zip(at_one, at_two, strict=True))
    assert 400 <= agree <= 600


def test_a_zero_percent_variant_is_never_chosen() -> None:
    for given in (variants(none=0, a=60, b=40), variants(a=60, none=0, b=40)):
        assert "none" not in {assign_variant(contact, "split", given) for contact in IDS}


def test_a_declared_winner_is_always_chosen() -> None:
    given = variants(a=50, b=30, c=20)
    assert {assign_variant(contact, "split", given, winner="c") for contact in IDS} == {"c"}


def test_a_winner_that_is_no_longer_a_variant_is_ignored() -> None:
    given = variants(a=50, b=50)
    chosen = {assign_variant(contact, "split", given, winner="gone") for contact in IDS}
    assert chosen == {"a", "b"}


def test_percentages_that_do_not_add_up_exactly_still_assign_everyone() -> None:
    given = variants(a=33.33, b=33.33, c=33.33)
    counts = Counter(assign_variant(contact, "split", given) for contact in IDS)
    assert set(counts) == {"a", "b", "c"}
    assert sum(counts.values()) == len(IDS)
