"""An organization's due times (`tenant_directory.outbox_due_at`, `workflow_due_at`) tell the
send loop and the engine where work waits. A pass lowers them by trigger when work becomes due
and, when it ends, sets them to the next due row: a wake-up committed while that pass waited
for the organization's row must survive it, or the work sleeps until something else wakes it."""

import threading
from collections.abc import Awaitable, Callable

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.db import DatabaseUrls
from outreach.kit.dburls import libpq_url
from outreach.sending.outbox import queue
from outreach.workflows.enrollments import repository as states
from tests.factories import (
    MailSink,
    Org,
    Walker,
    chain,
    create_template,
    eventually,
    in_org,
    sequence_campaign,
    someone_waits_for_a_lock,
)

# per due time: how the test's walk's row becomes due at {at}, and the pass's last statement
DUE_TIMES: dict[str, tuple[str, Callable[[AsyncSession, Org], Awaitable[None]]]] = {
    "workflow_due_at": (
        "UPDATE campaign_workflow_states SET workflow_status = 'waiting', "
        "next_execution_at = {at} WHERE id = %s",
        lambda session, org: states.note_next_due(session, org.id),
    ),
    "outbox_due_at": (
        "UPDATE outbox_messages SET due_at = {at} WHERE enrollment_id = %s",
        lambda session, org: queue.note_next_due(session, org.id),
    ),
}


@pytest.mark.parametrize("due_time", list(DUE_TIMES))
def test_work_woken_while_a_pass_notes_the_next_due_time_stays_due(
    due_time: str,
    client: TestClient,
    org: Org,
    as_owner: psycopg.Connection,
    database_urls: DatabaseUrls,
    mail_sink: MailSink,
    walker: Walker,
) -> None:
    wake, note_next_due = DUE_TIMES[due_time]
    template = create_template(client, org)
    graph = chain(
        ("start", "trigger", {}),
        ("t1", "email", {"template_id": template["id"]}),
        ("done", "exit", {}),
    )
    campaign_id, [member] = sequence_campaign(
        client, org, as_owner, database_urls, mail_sink, graph, contacts=1
    )
    [walk] = walker.enroll(org, campaign_id, [member])
    walker.walk(org)  # the walk's message is queued; the walk waits for it
    in_an_hour = "now() + interval '1 hour'"
    as_owner.execute(wake.format(at=in_an_hour), (walk,))
    as_owner.execute(
        f"UPDATE tenant_directory SET {due_time} = {in_an_hour} WHERE id = %s",
        (org.id,),
    )

    with psycopg.connect(libpq_url(database_urls.owner)) as waker:
        waker.execute(wake.format(at="now()"), (walk,))  # its trigger holds the org's row
        noting = threading.Thread(
            target=lambda: in_org(database_urls, org, lambda s: note_next_due(s, org))
        )
        noting.start()
        assert eventually(lambda: someone_waits_for_a_lock(as_owner, "tenant_directory"), 10)
        waker.commit()
    noting.join(10)

    assert not noting.is_alive()
    due_now = as_owner.execute(
        f"SELECT {due_time} <= now() FROM tenant_directory WHERE id = %s",
        (org.id,),
    ).fetchone()
    assert due_now == (True,)
