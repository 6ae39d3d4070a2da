"""The winner job: figures stored per split and variant, winners declared by the rule."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.kit.locks import try_advisory_xact_lock
from outreach.kit.tenancy import org_session
from outreach.workflows.graph.schemas import SplitConfig
from outreach.workflows.splits import repository
from outreach.workflows.splits.assignment import assign_variant
from outreach.workflows.splits.jobs import WinnerRun, declare_split_winners, lock_key
from outreach.workflows.splits.service import winner_for
from tests.factories import (
    T0,
    Org,
    create_campaign,
    failing_writes,
    in_org,
    insert_events,
    publish_canvas,
    run_job,
    split_canvas,
    split_contacts,
)

# b opens 40.91% against a's 16.67%, past 100 contacts each: p far below 0.05.
CLEAR_WIN = {"a": (20, 120), "b": (45, 110)}
AUTO = {"minimum_sample_size": 100, "confidence_threshold": 95.0, "auto_select_winner": True}


def active_split_campaign(
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    as_owner: psycopg.Connection,
    opened: dict[str, tuple[int, int]],  # variant: (opened, sent)
    **test: Any,
) -> str:
    """An active campaign whose split `test` sent each variant to `sent` contacts after their
    assignment, `opened` of whom opened."""
    campaign_id: str = create_campaign(client, org)["id"]
    publish_canvas(database_urls, org, campaign_id, split_canvas({**AUTO, **test}))
    as_owner.execute("UPDATE campaigns SET status = 'active' WHERE id = %s", (campaign_id,))
    people = split_contacts(
        client, org, as_owner, campaign_id, {v: sent for v, (_, sent) in opened.items()}
    )
    for variant, (opens, _) in opened.items():
        insert_events(as_owner, org, campaign_id, people[variant], "email_sent", T0)
        insert_events(
            as_owner, org, campaign_id, people[variant][:opens], "opened", T0 + timedelta(hours=2)
        )
    return campaign_id


def run(database_urls: DatabaseUrls) -> WinnerRun:
    return run_job(database_urls, declare_split_winners)


def results(as_owner: psycopg.Connection, campaign_id: str) -> list[tuple[Any, ...]]:
    return as_owner.execute(
        "SELECT variant_id, total_sent, total_opened, open_rate::float, is_winner, "
        "winner_declared_at IS NOT NULL, test_ended_at IS NOT NULL "
        "FROM campaign_ab_test_results WHERE campaign_id = %s ORDER BY variant_id",
        (campaign_id,),
    ).fetchall()


def versions(as_owner: psycopg.Connection, campaign_id: str) -> list[tuple[Any, ...]]:
    return as_owner.execute(
        "SELECT version, change_type FROM campaign_versions WHERE campaign_id = %s "
        "ORDER BY version",
        (campaign_id,),
    ).fetchall()


def test_a_winner_is_declared_from_recorded_events_and_new_contacts_take_it(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(client, org, database_urls, as_owner, CLEAR_WIN)
    outcome = run(database_urls)
    campaign_uuid = uuid.UUID(campaign_id)
    assert (campaign_uuid, "test") in outcome.declared
    assert results(as_owner, campaign_id) == [
        ("a", 120, 20, 16.67, False, True, True),
        ("b", 110, 45, 40.91, True, True, True),
    ]
    assert versions(as_owner, campaign_id) == [(1, "published"), (2, "ab_test_completed")]
    winner = in_org(database_urls, org, lambda s: winner_for(s, campaign_uuid, "test"))
    assert winner == "b"
    variants = SplitConfig.model_validate(split_canvas()["nodes"][1]["data"]["config"]).variants
    newcomers = {assign_variant(uuid.uuid4(), "test", variants, winner) for _ in range(50)}
    assert newcomers == {"b"}


def test_figures_are_stored_without_a_winner_when_the_test_does_not_select_one(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(
        client, org, database_urls, as_owner, CLEAR_WIN, auto_select_winner=False
    )
    run(database_urls)
    assert [row[:5] for row in results(as_owner, campaign_id)] == [
        ("a", 120, 20, 16.67, False),
        ("b", 110, 45, 40.91, False),
    ]
    assert versions(as_owner, campaign_id) == [(1, "published")]


def test_no_winner_before_every_variant_reaches_the_minimum_sample(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(
        client, org, database_urls, as_owner, {"a": (10, 99), "b": (60, 110)}
    )
    run(database_urls)
    assert not any(row[4] for row in results(as_owner, campaign_id))


def test_no_winner_below_the_confidence_threshold(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(
        client, org, database_urls, as_owner, {"a": (30, 110), "b": (36, 110)}
    )
    run(database_urls)
    assert [row[4] for row in results(as_owner, campaign_id)] == [False, False]


def test_a_declared_winner_stays_and_is_declared_once(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(client, org, database_urls, as_owner, CLEAR_WIN)
    run(database_urls)
    # a turn of the figures after the declaration changes them, not the winner
    people = as_owner.execute(
        "SELECT campaign_contact_id FROM campaign_workflow_states "
        "WHERE campaign_id = %s AND variants -> 'test' ->> 'variant' = 'a'",
        (campaign_id,),
    ).fetchall()
    insert_events(as_owner, org, campaign_id, [str(p[0]) for p in people], "opened", T0)
    again = run(database_urls)
    assert uuid.UUID(campaign_id) not in {c for c, _ in again.declared}
    assert [row[:5] for row in results(as_owner, campaign_id)] == [
        ("a", 120, 120, 100.0, False),
        ("b", 110, 45, 40.91, True),
    ]
    assert versions(as_owner, campaign_id) == [(1, "published"), (2, "ab_test_completed")]


def test_campaigns_not_live_are_left_alone(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(client, org, database_urls, as_owner, CLEAR_WIN)
    as_owner.execute("UPDATE campaigns SET status = 'draft' WHERE id = %s", (campaign_id,))
    run(database_urls)
    assert results(as_owner, campaign_id) == []


def test_a_campaign_another_process_holds_is_skipped(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(client, org, database_urls, as_owner, CLEAR_WIN)

    async def held_elsewhere(sessionmaker: Any) -> WinnerRun:
        async with sessionmaker() as session, session.begin():
            assert await try_advisory_xact_lock(session, lock_key(uuid.UUID(campaign_id)))
            return await declare_split_winners(sessionmaker)

    run_job(database_urls, held_elsewhere)
    assert results(as_owner, campaign_id) == []
    run(database_urls)
    assert len(results(as_owner, campaign_id)) == 2


def test_a_campaign_that_fails_fails_alone(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    broken = active_split_campaign(client, org, database_urls, as_owner, CLEAR_WIN)
    fine = active_split_campaign(client, org, database_urls, as_owner, CLEAR_WIN)
    with failing_writes(as_owner, "campaign_ab_test_results", f"NEW.campaign_id = '{broken}'"):
        outcome = run(database_urls)
    assert uuid.UUID(broken) in outcome.failed
    assert not outcome.report().ok
    assert results(as_owner, broken) == []
    assert versions(as_owner, broken) == [(1, "published")]
    assert [row[4] for row in results(as_owner, fine)] == [False, True]


def test_of_two_concurrent_declarations_the_first_stands(
    client: TestClient, org: Org, database_urls: DatabaseUrls, as_owner: psycopg.Connection
) -> None:
    campaign_id = active_split_campaign(
        client, org, database_urls, as_owner, CLEAR_WIN, auto_select_winner=False
    )
    run(database_urls)  # the figures are stored, nobody declared a winner
    campaign = uuid.UUID(campaign_id)

    async def race(sessionmaker: Any) -> tuple[Any, Any]:
        async with org_session(sessionmaker, org.id) as first, first.begin():
            won = await repository.declare_winner(first, campaign, "test", "a", None)
            async with org_session(sessionmaker, org.id) as second, second.begin():
                late = asyncio.create_task(
                    repository.declare_winner(second, campaign, "test", "b", None)
                )
                await asyncio.sleep(0.3)  # the second waits for the first's row locks
                assert not late.done()
                await first.commit()
                return won, await late

    won, late = run_job(database_urls, race)
    assert won is not None
    assert late is None
    assert [row[4] for row in results(as_owner, campaign_id)] == [True, False]
