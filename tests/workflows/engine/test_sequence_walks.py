"""The engine walks real sequences end to end, with a clock the test moves: touches after their
waits, waits on events, branches on tracking events, replies, out-of-office, pause and resume,
bounces."""

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.events.state import EventType
from outreach.workflows.engine.service import run_org
from tests.factories import (
    Engine,
    MailSink,
    Org,
    Walker,
    act,
    canvas,
    chain,
    contact_rows,
    create_template,
    event,
    failing_writes,
    ok,
    record,
    sequence_campaign,
    states,
    workflow_events,
)

DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)


def email(node_id: str, template: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    return (node_id, "email", {"template_id": template["id"]})


def wait(node_id: str, days: int) -> tuple[str, str, dict[str, Any]]:
    return (node_id, "wait", {"type": "duration", "value": days, "unit": "days"})


START = ("start", "trigger", {"type": "manual"})
DONE = ("done", "exit", {})


def touches(client: TestClient, org: Org, n: int) -> list[dict[str, Any]]:
    return [
        create_template(client, org, name=f"Touch {i}", subject=f"Touch {i} for {{{{first_name}}}}")
        for i in range(1, n + 1)
    ]


def subjects(sink: MailSink) -> Counter[str]:
    return Counter(str(m["Subject"]).split(" for ")[0] for m in sink.messages)


def test_a_three_touch_sequence_sends_each_touch_after_its_wait(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    t1, t2, t3 = touches(client, org, 3)
    graph = chain(
        START, email("t1", t1), wait("w1", 2), email("t2", t2), wait("w2", 3), email("t3", t3), DONE
    )
    campaign_id, members = sequence_campaign(client, org, as_owner, database_urls, mail_sink, graph)
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2}

    walker.later(org, MINUTE)  # the first touch was sent: on to the first wait
    walker.later(org, DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2}  # one day of two: nothing yet

    walker.later(org, DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2, "Touch 2": 2}
    walker.later(org, MINUTE)
    walker.later(org, 2 * DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2, "Touch 2": 2}
    walker.later(org, DAY)
    engine.send(org)
    walker.later(org, MINUTE)
    assert subjects(mail_sink) == {"Touch 1": 2, "Touch 2": 2, "Touch 3": 2}
    walked = states(as_owner, campaign_id)
    assert {s["workflow_status"] for s in walked} == {"completed"}
    assert {tuple(s["execution_path"]) for s in walked} == {
        ("start", "t1", "w1", "t2", "w2", "t3", "done")
    }
    assert workflow_events(as_owner, campaign_id) == {
        "enrollment_started": 2,
        "message_queued": 6,
        "wait_started": 4,
        "wait_completed": 4,
        "enrollment_completed": 2,
    }


def click_graph(template: dict[str, Any], follow_up: dict[str, Any]) -> dict[str, Any]:
    return chain(
        START,
        email("intro", template),
        (
            "wait_click",
            "wait",
            {"type": "until_event", "event": "clicked", "timeout": {"value": 3, "unit": "days"}},
        ),
        email("follow", follow_up),
        DONE,
    )


def test_a_wait_for_a_click_resumes_at_the_click(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    intro, follow = touches(client, org, 2)
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, click_graph(intro, follow), contacts=1
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    walker.later(org, MINUTE)
    assert walker.later(org, DAY) == 0  # waiting for the click: nothing to do
    record(database_urls, org, event(members[0], EventType.CLICKED, walker.clock.now()))
    walker.walk(org)  # the click woke the walk: no clock move needed
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 1, "Touch 2": 1}
    state = states(as_owner, campaign_id)[0]
    assert state["workflow_variables"]["wait_click"] == {"event": True}


def test_a_wait_for_a_click_goes_on_at_its_timeout(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    intro, follow = touches(client, org, 2)
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, click_graph(intro, follow), contacts=1
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    walker.later(org, MINUTE)
    walker.later(org, 2 * DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 1}
    walker.later(org, DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 1, "Touch 2": 1}
    state = states(as_owner, campaign_id)[0]
    assert state["workflow_variables"]["wait_click"] == {"event": False}


def test_a_branch_on_an_open_takes_human_opens_only(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    intro, opened, not_opened = touches(client, org, 3)
    graph = canvas(
        [
            START,
            email("intro", intro),
            wait("pause", 1),
            (
                "opened",
                "condition",
                {
                    "condition": {
                        "type": "event",
                        "event_type": "opened",
                        "operator": ">=",
                        "value": 1,
                    }
                },
            ),
            email("thanks", opened),
            email("nudge", not_opened),
            DONE,
        ],
        [
            ("start", "intro"),
            ("intro", "pause"),
            ("pause", "opened"),
            ("opened", "thanks", "conditional-true"),
            ("opened", "nudge", "conditional-false"),
            ("thanks", "done"),
            ("nudge", "done"),
        ],
    )
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=2
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    human, machine = members
    now = walker.clock.now()
    record(
        database_urls,
        org,
        event(human, EventType.OPENED, now),
        event(machine, EventType.OPENED, now, is_machine=True),
    )
    walker.later(org, MINUTE)
    walker.later(org, DAY)
    engine.send(org)
    to = {str(row["id"]): row["email"] for row in contact_rows(as_owner, campaign_id)}
    got = {str(m["To"].addresses[0].addr_spec): str(m["Subject"]) for m in mail_sink.messages[2:]}
    assert got[to[human]].startswith("Touch 2")  # took the "opened" branch
    assert got[to[machine]].startswith("Touch 3")  # a proxy's open is not an open


def reply_graph(client: TestClient, org: Org) -> dict[str, Any]:
    t1, t2 = touches(client, org, 2)
    return chain(START, email("t1", t1), wait("w1", 2), email("t2", t2), DONE)


def test_a_reply_stops_the_sequence_before_the_next_touch(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org)
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    walker.later(org, MINUTE)
    replied = event(members[0], EventType.RESPONSE_RECEIVED, walker.clock.now())
    record(database_urls, org, replied)
    walker.later(org, 2 * DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2, "Touch 2": 1}
    by_member = {str(s["campaign_contact_id"]): s for s in states(as_owner, campaign_id)}
    assert by_member[members[0]]["workflow_status"] == "exited"
    assert by_member[members[0]]["exit_reason"] == "replied"


def test_the_send_claim_refuses_a_touch_queued_before_a_reply(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org), contacts=1
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    walker.later(org, MINUTE)
    walker.later(org, 2 * DAY)  # the second touch is queued
    replied = event(members[0], EventType.RESPONSE_RECEIVED, walker.clock.now())
    record(database_urls, org, replied)  # ... and the reply comes before the engine looks again
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 1}
    second = as_owner.execute(
        "SELECT status, last_error FROM outbox_messages WHERE campaign_id = %s AND step = 't2'",
        (campaign_id,),
    ).fetchone()
    assert second == ("cancelled", "contact replied")


def test_an_out_of_office_reply_delays_the_next_touch_until_the_return_date(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org), contacts=1
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    walker.later(org, MINUTE)
    back = (walker.clock.now() + 5 * DAY).date()
    away = event(
        members[0],
        EventType.AUTO_REPLIED,
        walker.clock.now(),
        data={"return_date": back.isoformat()},
    )
    record(database_urls, org, away)
    walker.later(org, 2 * DAY)  # the wait is over, but the contact is away
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 1}
    walker.later(org, 3 * DAY + timedelta(hours=1))  # past the return date (UTC campaign)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 1, "Touch 2": 1}
    assert workflow_events(as_owner, campaign_id)["enrollment_paused"] == 1


def test_pausing_a_campaign_pauses_its_walks_and_resuming_resumes_them(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org)
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    walker.later(org, MINUTE)
    ok(act(client, org, campaign_id, "pause"))
    assert {s["workflow_status"] for s in states(as_owner, campaign_id)} == {"paused"}
    assert walker.later(org, 3 * DAY) == 0  # past the wait: paused walks do not move
    ok(act(client, org, campaign_id, "resume"))
    assert {s["workflow_status"] for s in states(as_owner, campaign_id)} == {"waiting"}
    logged = workflow_events(as_owner, campaign_id)
    assert (logged["enrollment_paused"], logged["enrollment_resumed"]) == (2, 2)
    walker.later(org, MINUTE)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2, "Touch 2": 2}


def test_a_hard_bounce_ends_the_enrollment(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    engine: Engine,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org)
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    engine.send(org)
    bounced = event(
        members[0],
        EventType.BOUNCED,
        walker.clock.now(),
        data={"bounce_type": "hard"},
    )
    record(database_urls, org, bounced)
    walker.later(org, MINUTE)
    walker.later(org, 2 * DAY)
    engine.send(org)
    assert subjects(mail_sink) == {"Touch 1": 2, "Touch 2": 1}
    by_member = {str(s["campaign_contact_id"]): s for s in states(as_owner, campaign_id)}
    assert (by_member[members[0]]["workflow_status"], by_member[members[0]]["exit_reason"]) == (
        "exited",
        "bounced",
    )


def test_two_engines_run_every_step_of_every_contact_exactly_once(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org), contacts=120
    )
    walker.enroll(org, campaign_id, members)

    async def two_engines() -> int:
        engines = [create_engine(database_urls.app, pool_size=2) for _ in range(2)]
        try:
            done = await asyncio.gather(
                *(
                    run_org(create_sessionmaker(e), walker.context(), org.id, batch_size=7)
                    for e in engines
                )
            )
            return sum(done)
        finally:
            for e in engines:
                await e.dispose()

    def sent() -> None:  # the send loop's result, for every queued message
        as_owner.execute(
            "UPDATE outbox_messages SET status = 'sent', sent_at = now() "
            "WHERE campaign_id = %s AND status = 'queued'",
            (campaign_id,),
        )

    nodes = asyncio.run(two_engines())  # trigger, first touch
    sent()
    walker.clock.advance(MINUTE)
    nodes += asyncio.run(two_engines())  # first touch resumed, wait started
    walker.clock.advance(2 * DAY)
    nodes += asyncio.run(two_engines())  # wait over, second touch
    sent()
    walker.clock.advance(MINUTE)
    nodes += asyncio.run(two_engines())  # second touch resumed, exit
    assert nodes == 120 * 8  # two nodes per contact and run
    steps = as_owner.execute(
        "SELECT step, count(*) FROM outbox_messages WHERE campaign_id = %s GROUP BY step",
        (campaign_id,),
    ).fetchall()
    assert dict(steps) == {"t1": 120, "t2": 120}
    assert workflow_events(as_owner, campaign_id) == {
        "enrollment_started": 120,
        "message_queued": 240,
        "wait_started": 120,
        "wait_completed": 120,
        "enrollment_completed": 120,
    }
    assert {s["workflow_status"] for s in states(as_owner, campaign_id)} == {"completed"}


def test_a_walk_that_keeps_failing_fails_alone_after_its_retries(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org)
    )
    bad, good = walker.enroll(org, campaign_id, members)
    # every write of the bad walk fails, except the engine's note of the failure itself
    with failing_writes(
        as_owner, "campaign_workflow_states", f"NEW.id = '{bad}' AND NEW.retry_count = 0"
    ):
        walker.walk(org)
        by_id = {s["id"]: s for s in states(as_owner, campaign_id)}
        assert by_id[good]["workflow_status"] == "waiting"  # the other walk went on
        assert by_id[bad]["retry_count"] == 1
        assert "injected failure" in by_id[bad]["last_error"]
        for _ in range(3):  # max_retries: 3
            walker.later(org, timedelta(minutes=10))
    failed = {s["id"]: s for s in states(as_owner, campaign_id)}[bad]
    assert failed["workflow_status"] == "failed"
    assert "injected failure" in failed["last_error"]


def test_completing_a_campaign_ends_its_walks_at_once(
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    campaign_id, members = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, reply_graph(client, org)
    )
    walker.enroll(org, campaign_id, members)
    walker.walk(org)
    ok(act(client, org, campaign_id, "complete"))
    walker.later(org, MINUTE)  # not two days: completion made the walks due
    ended = {(s["workflow_status"], s["exit_reason"]) for s in states(as_owner, campaign_id)}
    assert ended == {("exited", "campaign completed")}
