"""A split over a thousand contacts walked by the engine (test clock): shares within a few
percent of the percentages, each contact's variant on its walk and in the event log, and the
same variant whenever the contact reaches the split again or walks it afresh."""

import math
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from tests.factories import (
    MailSink,
    Org,
    Walker,
    canvas,
    ok,
    put_workflow,
    sequence_campaign,
    states,
)

CONTACTS = 1_000
PERCENTAGES = {"a": 50, "b": 30, "c": 20}


def looped_split(hold_days: int = 1) -> dict[str, Any]:
    """trigger → split 50/30/20 → a wait of `hold_days` per variant → back to the split, so
    that every contact reaches the split again once its wait is over."""
    variants = [{"id": v, "percentage": p} for v, p in PERCENTAGES.items()]
    hold = {"type": "duration", "value": hold_days, "unit": "days"}
    return canvas(
        [
            ("start", "trigger", {"type": "manual"}),
            ("split", "split", {"variants": variants}),
            *[(f"hold-{v}", "wait", hold) for v in PERCENTAGES],
        ],
        [
            ("start", "split"),
            *[("split", f"hold-{v}", f"variant-{v}") for v in PERCENTAGES],
            *[(f"hold-{v}", "split") for v in PERCENTAGES],
        ],
    )


def split_walks(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    urls: DatabaseUrls,
    sink: MailSink,
    walker: Walker,
) -> tuple[str, list[str]]:
    """A campaign of a thousand contacts on the looped split, all enrolled and walked up to
    their variant's wait; answers its id and its campaign contacts' ids."""
    campaign_id, members = sequence_campaign(
        client, org, as_owner, urls, sink, looped_split(), contacts=CONTACTS
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    return campaign_id, members


def variant_events(as_owner: psycopg.Connection, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's `variant_assigned` events, oldest first."""
    with as_owner.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(
            "SELECT enrollment_id, node_id, event_data FROM engagement_events "
            "WHERE campaign_id = %s AND event_type = 'variant_assigned' "
            "ORDER BY event_timestamp, created_at",
            (campaign_id,),
        )
        return cursor.fetchall()


def variant_by_member(as_owner: psycopg.Connection, campaign_id: str) -> dict[str, str]:
    return {
        str(state["campaign_contact_id"]): state["variants"]["split"]["variant"]
        for state in states(as_owner, campaign_id)
    }


def test_a_split_over_a_thousand_contacts_keeps_to_its_percentages(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, _ = split_walks(client, org, as_owner, database_urls, mail_sink, walker)
    walked = states(as_owner, campaign_id)
    counts = Counter(state["assigned_variant"] for state in walked)
    assert sum(counts.values()) == CONTACTS
    for variant, percentage in PERCENTAGES.items():
        share = percentage / 100
        # 5 standard deviations of a binomial count: fails about once in 2 million runs.
        bound = 5 * math.sqrt(CONTACTS * share * (1 - share))
        assert abs(counts[variant] - CONTACTS * share) <= bound, counts
    assert {(s["assigned_variant"], s["current_node_id"]) for s in walked} == {
        (v, f"hold-{v}") for v in PERCENTAGES
    }


def test_each_contact_s_variant_is_recorded_on_its_walk_and_in_the_event_log(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, _ = split_walks(client, org, as_owner, database_urls, mail_sink, walker)
    walked = states(as_owner, campaign_id)
    now = walker.clock.now()
    for state in walked:
        assert state["variants"] == {
            "split": {"variant": state["assigned_variant"], "at": now.isoformat()}
        }
        assert state["variant_assigned_at"] == now
    logged = variant_events(as_owner, campaign_id)
    assert {e["node_id"] for e in logged} == {"split"}
    assert {e["enrollment_id"]: e["event_data"] for e in logged} == {
        state["id"]: {"variant": state["assigned_variant"]} for state in walked
    }
    assert len(logged) == CONTACTS


def test_a_contact_reaching_the_split_again_keeps_its_variant(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, _ = split_walks(client, org, as_owner, database_urls, mail_sink, walker)
    first = {state["id"]: state["variants"] for state in states(as_owner, campaign_id)}
    walker.later(org, timedelta(days=1, minutes=1))
    again = states(as_owner, campaign_id)
    assert {state["id"]: state["variants"] for state in again} == first  # the first `at` too
    for state in again:
        variant = state["assigned_variant"]
        assert state["execution_path"][-2:] == ["split", f"hold-{variant}"]
        assert state["execution_path"].count("split") == 2
    kept = [e for e in variant_events(as_owner, campaign_id) if e["event_data"].get("kept")]
    assert {e["enrollment_id"]: e["event_data"]["variant"] for e in kept} == {
        state_id: variants["split"]["variant"] for state_id, variants in first.items()
    }


def test_the_same_contacts_walking_a_second_version_afresh_take_the_same_variants(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, members = split_walks(client, org, as_owner, database_urls, mail_sink, walker)
    first = variant_by_member(as_owner, campaign_id)
    # The walks forgotten, assignments included, so that the split assigns anew: enrollment
    # refuses a contact that still has a walk.
    as_owner.execute("DELETE FROM campaign_workflow_states WHERE campaign_id = %s", (campaign_id,))
    ok(put_workflow(client, org, campaign_id, looped_split(hold_days=2)))
    published = ok(
        client.post(f"/api/v1/campaigns/{campaign_id}/workflow/publish", headers=org.headers()),
        201,
    )
    walker.clock.advance(timedelta(hours=5))
    walker.enroll(org, campaign_id, list(reversed(members)))
    walker.walk(org, batch_size=64)  # other batches, in another order, at another time
    again = states(as_owner, campaign_id)
    assert {state["version"] for state in again} == {published["version"]} != {1}
    assert variant_by_member(as_owner, campaign_id) == first
    fresh = {state["id"] for state in again}
    assert all(
        "kept" not in e["event_data"]
        for e in variant_events(as_owner, campaign_id)
        if e["enrollment_id"] in fresh
    )
