"""A sequence as a customer runs it: a real `outreach serve` process with its embedded scheduler
(planner, engine, send loop) on the real clock, driven over HTTP only, mailing a local SMTP
server."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from outreach.db import DatabaseUrls
from tests.databases import migrated_database
from tests.factories import MailSink, Org, chain, eventually, ok
from tests.served import Served, environment, serve

WAIT_SECONDS = 3
# Planner, engine and send loop each pass about once a second or faster: a step of the walk
# lands within a few seconds, and a bound this wide still fails a test that hangs.
STEP_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def own_database() -> Iterator[DatabaseUrls]:
    """A database of its own: the served process runs every job over every organization, and
    the shared test database holds every other test's campaigns, mailboxes and imports."""
    with migrated_database() as urls:
        yield urls


@pytest.fixture(scope="module")
def served(
    own_database: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("sequence")
    env = environment(
        own_database,
        folder / "data",
        OUTREACH_PLAN_MINUTES="0.01",
        OUTREACH_SEND_POLL_SECONDS="0.2",
    )
    with serve(env, folder) as running:
        yield running


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{served.url}/api/v1", timeout=10) as client:
        yield client


def open_all_day_zone() -> str:
    """A zone in which a window of 00:00-23:59 is open for the next hour: the API takes minutes,
    so the window closes for the last minute of the local day."""
    return "UTC" if datetime.now(UTC).hour < 23 else "Etc/GMT+1"  # an hour behind UTC


def subjects(sink: MailSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in sink.to(address)]


def two_touch_campaign(api: httpx.Client, org: Org, sink: MailSink) -> tuple[str, dict[str, str]]:
    """An autopilot campaign open all week, sending through the sink, whose sequence is
    email 1 → wait a few seconds → email 2 → exit, with two contacts; answers its id and
    the campaign contact ids by address. Not yet active."""
    headers = org.headers()
    sender = ok(
        api.post(
            "/senders",
            json={
                "from_email": "recruiting@example.com",
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_tls": "none",
                "min_spacing_seconds": 0,
            },
            headers=headers,
        ),
        201,
    )
    first, second = (
        ok(
            api.post(
                "/templates",
                json={
                    "name": name,
                    "channel": "email",
                    "subject": f"{name} for {{{{first_name}}}}",
                    "body_text": "Hi {{first_name}}, are you open to a new role?",
                },
                headers=headers,
            ),
            201,
        )
        for name in ("Intro", "Follow-up")
    )
    campaign = ok(
        api.post(
            "/campaigns",
            json={
                "name": "Two touches",
                "channel": "email",
                "permission_mode": "autopilot",
                "template_id": first["id"],
                "sender_id": sender["id"],
                "timezone": open_all_day_zone(),
                "send_days": [1, 2, 3, 4, 5, 6, 7],
                "send_start": "00:00",
                "send_end": "23:59",
            },
            headers=headers,
        ),
        201,
    )
    workflow = chain(
        ("start", "trigger", {"type": "manual"}),
        ("intro", "email", {"template_id": first["id"]}),
        ("pause", "wait", {"type": "duration", "value": WAIT_SECONDS, "unit": "seconds"}),
        ("follow", "email", {"template_id": second["id"]}),
        ("done", "exit", {}),
    )
    ok(api.put(f"/campaigns/{campaign['id']}/workflow", json=workflow, headers=headers))
    rows = [
        {"email": "stays@example.com", "first_name": "Stays"},
        {"email": "replies@example.com", "first_name": "Replies"},
    ]
    added = ok(
        api.post(f"/campaigns/{campaign['id']}/contacts", json={"contacts": rows}, headers=headers)
    )
    members = {
        row["email"]: result["campaign_contact_id"]
        for row, result in zip(rows, added["results"], strict=True)
    }
    return campaign["id"], members


def test_the_second_touch_follows_the_wait_and_skips_the_contact_who_replied(
    api: httpx.Client, org: Org, mail_sink: MailSink
) -> None:
    campaign_id, members = two_touch_campaign(api, org, mail_sink)
    ok(api.post(f"/campaigns/{campaign_id}/activate", headers=org.headers()))

    assert eventually(lambda: len(mail_sink.messages) == 2, STEP_TIMEOUT)
    assert subjects(mail_sink, "stays@example.com") == ["Intro for Stays"]
    assert subjects(mail_sink, "replies@example.com") == ["Intro for Replies"]
    intro_sent = time.monotonic()
    ok(
        api.post(
            f"/campaigns/{campaign_id}/contacts/{members['replies@example.com']}/events",
            json={"event_type": "response_received", "response_text": "Tell me more"},
            headers=org.headers(),
        ),
        201,
    )

    assert eventually(lambda: len(mail_sink.messages) == 3, WAIT_SECONDS + STEP_TIMEOUT)
    assert time.monotonic() - intro_sent >= WAIT_SECONDS - 0.5  # not before the wait ended
    assert subjects(mail_sink, "stays@example.com") == ["Intro for Stays", "Follow-up for Stays"]

    def walks() -> dict[str, tuple[str, str | None]]:
        page = ok(api.get(f"/campaigns/{campaign_id}/enrollments", headers=org.headers()))
        return {
            item["contact_id"]: (item["workflow_status"], item["exit_reason"])
            for item in page["items"]
        }

    ended = {"completed", "exited"}
    assert eventually(lambda: {s for s, _ in walks().values()} <= ended, STEP_TIMEOUT)
    assert walks() == {
        members["stays@example.com"]: ("completed", None),
        members["replies@example.com"]: ("exited", "replied"),
    }
    assert subjects(mail_sink, "replies@example.com") == ["Intro for Replies"]
