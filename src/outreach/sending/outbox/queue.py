"""The outbox queue, the one writer of outbox_messages: the planner's first touches, approval
decisions, cancellation, claims of due messages under their sender's limits, leases, results.

Every statement runs in the caller's transaction with the organization set. A claim locks the
sender's row (`FOR UPDATE SKIP LOCKED`), counts its recent sends in `sender_usage`, and marks
at most that many due messages `sending` with a lease; so limits hold across processes, and a
message whose worker died is claimed again once its lease runs out.
"""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import RowMapping, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.jobs.runs import hold_due_times
from outreach.kit.tenancy import org_connection
from outreach.models import OutboxMessage, Sender

_ACCEPTED = """SELECT id, campaign_contact_id, channel, message_id, sent_at
FROM outbox_messages WHERE status = 'accepted' AND {which}
ORDER BY id FOR UPDATE"""
ACCEPTED_THESE = text(_ACCEPTED.format(which="id = ANY(:ids)"))
ACCEPTED_ABANDONED = text(_ACCEPTED.format(which="lease_until < now()"))
FINISH = text("UPDATE outbox_messages SET status = 'sent', lease_until = NULL WHERE id = ANY(:ids)")

RELEASE_EXPIRED = text("""
UPDATE outbox_messages SET status = 'queued', lease_until = NULL,
    last_error = 'the worker stopped before reporting the result; sending again'
WHERE status = 'sending' AND lease_until < now()
""")

SENDERS_WITH_DUE = (
    select(Sender)
    .where(
        Sender.paused_at.is_(None),
        text("(senders.next_send_at IS NULL OR senders.next_send_at <= now())"),
        text("""EXISTS (SELECT 1 FROM outbox_messages o JOIN campaigns ca
                      ON ca.org_id = o.org_id AND ca.id = o.campaign_id
                    WHERE o.sender_id = senders.id AND o.status = 'queued'
                      AND o.due_at <= now() AND ca.status = 'active')"""),
    )
    .with_for_update(skip_locked=True)
)

USAGE = text("""
SELECT coalesce(sum(sends) FILTER (
         WHERE minute >= date_trunc('minute', now() - interval '1 hour')), 0) AS last_hour,
       coalesce(sum(sends), 0) AS last_day
FROM sender_usage
WHERE sender_id = :sender_id AND minute >= date_trunc('minute', now() - interval '1 day')
""")

ADD_USAGE = text("""
INSERT INTO sender_usage (org_id, sender_id, minute, sends)
VALUES (:org_id, :sender_id, date_trunc('minute', now()), :sends)
ON CONFLICT (org_id, sender_id, minute) DO UPDATE SET sends = sender_usage.sends + excluded.sends
""")

RECENT_RESULTS = text("""
SELECT count(*) AS sends,
       count(*) FILTER (WHERE cc.bounced_at IS NOT NULL AND cc.bounce_type = 'hard') AS bounces,
       count(*) FILTER (WHERE cc.complained_at IS NOT NULL) AS complaints
FROM (SELECT org_id, campaign_contact_id FROM outbox_messages
      WHERE sender_id = :sender_id AND status IN ('sent', 'failed')
        AND (CAST(:since AS timestamptz) IS NULL OR updated_at > :since)
      ORDER BY updated_at DESC LIMIT :window) AS o
JOIN campaign_contacts cc ON cc.org_id = o.org_id AND cc.id = o.campaign_contact_id
""")

# Candidates in due order. One that must not go out any more (the contact unsubscribed or
# bounced, the address is on the suppression list (matched by its hash, which is all an erased
# person's suppression keeps), its sequence ended or was stopped by a reply, an unsubscribe, a
# complaint or a bounce the engine has not looked at yet: checked now, at send time) is
# cancelled;
# one outside its sending window (in the contact's time zone, else the campaign's, else UTC;
# a zone this server does not know counts as none) is moved to the window's next opening; the
# others are claimed.
_CLAIM = """
WITH candidates AS (
  SELECT o.id,
    next_in_window(now(), known_zone(c.timezone, ca.timezone), ca.send_days,
                   ca.send_start, ca.send_end) AS opens,
    CASE WHEN cc.unsubscribed_at IS NOT NULL THEN 'contact unsubscribed'
         WHEN cc.bounced_at IS NOT NULL THEN 'contact bounced'
         WHEN s.workflow_status IN ('completed', 'failed', 'exited') THEN 'enrollment ended'
         WHEN s.interrupt IN ('unsubscribed', 'complained', 'bounced')
           THEN 'contact ' || s.interrupt
         WHEN s.interrupt = 'replied' AND coalesce(
           CAST(v.canvas_snapshot #>> '{{settings,stop_on_reply}}' AS boolean), true)
           THEN 'contact replied'
         WHEN c.email IS NOT NULL AND EXISTS (
           SELECT 1 FROM suppressions s
           WHERE s.org_id = c.org_id
             AND s.email_hash = encode(sha256(convert_to(lower(c.email), 'UTF8')), 'hex'))
           THEN 'address on the suppression list'
    END AS refusal
  FROM outbox_messages o
  JOIN campaigns ca ON ca.org_id = o.org_id AND ca.id = o.campaign_id
  JOIN campaign_contacts cc ON cc.org_id = o.org_id AND cc.id = o.campaign_contact_id
  JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
  LEFT JOIN campaign_workflow_states s ON s.org_id = o.org_id AND s.id = o.enrollment_id
  LEFT JOIN campaign_versions v
    ON v.org_id = s.org_id AND v.campaign_id = s.campaign_id AND v.version = s.version
  WHERE {which} AND o.status = 'queued' AND o.due_at <= now()
    AND ca.status = 'active' AND ca.deleted_at IS NULL
  ORDER BY o.due_at, o.id
  LIMIT :limit
  FOR UPDATE OF o SKIP LOCKED
), decided AS (
  SELECT id, opens, refusal, refusal IS NULL AND opens <= now() AS claimed FROM candidates
)
UPDATE outbox_messages o SET
  status = CASE WHEN k.refusal IS NOT NULL THEN 'cancelled'
                WHEN k.claimed THEN 'sending' ELSE 'queued' END,
  last_error = coalesce(k.refusal, o.last_error),
  due_at = CASE WHEN k.refusal IS NULL THEN greatest(o.due_at, k.opens) ELSE o.due_at END,
  lease_until = CASE WHEN k.claimed THEN now() + :lease END,
  attempts = o.attempts + k.claimed::int{message_id}
FROM decided k
WHERE o.id = k.id
RETURNING o.id, o.status
"""
# An email's Message-ID is fixed at its first claim (message_id_for), so its retries
# and a re-send after a crash carry the same one.
CLAIM_FOR_SENDER = text(
    _CLAIM.format(
        which="o.sender_id = :sender_id",
        message_id=",\n  message_id = coalesce(o.message_id, '<' || o.id || '@' || :domain || '>')",
    )
)
# SMS messages have no sender: `sender_id IS NULL` walks the same index as a sender's queue.
CLAIM_SMS = text(_CLAIM.format(which="o.sender_id IS NULL", message_id=""))

CLAIMED_MESSAGES = text("""
SELECT o.id, o.org_id, o.campaign_id, o.campaign_contact_id, o.channel, o.attempts, o.sender_id,
       coalesce(o.subject_override, t.subject) AS subject,
       coalesce(o.body_text_override, t.body_text) AS body_text,
       coalesce(o.body_html_override, t.body_html) AS body_html,
       c.email, c.first_name, c.last_name, c.company_name, c.title, c.linkedin_url, c.phone,
       c.custom_fields, ca.name AS campaign_name
FROM outbox_messages o
JOIN campaign_contacts cc ON cc.org_id = o.org_id AND cc.id = o.campaign_contact_id
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
JOIN campaigns ca ON ca.org_id = o.org_id AND ca.id = o.campaign_id
LEFT JOIN message_templates t ON t.org_id = o.org_id AND t.id = o.template_id
WHERE o.id = ANY(:ids)
ORDER BY o.due_at, o.id
""")

# When the organization may next have something to send; NULL when nothing waits. (Two
# subqueries, so that each is one step down its partial index however long the queue.)
NEXT_DUE = text("""
UPDATE tenant_directory SET outbox_due_at = least(
  (SELECT min(due_at) FROM outbox_messages WHERE status = 'queued'),
  (SELECT min(lease_until) FROM outbox_messages WHERE status IN ('sending', 'accepted')))
WHERE id = :org_id
""")
RETRY_SOON = text(
    "UPDATE tenant_directory SET outbox_due_at = least(outbox_due_at, :at) WHERE id = :org_id"
)

ENQUEUE = text("""
-- name: enqueue (one message per contact and step: a repeat does nothing)
INSERT INTO outbox_messages (org_id, campaign_id, campaign_contact_id, channel, status,
                             sender_id, template_id, due_at, enrollment_id, step)
SELECT :org_id, :campaign_id, p.id, p.channel, :status, p.sender_id, p.template_id,
       next_in_window(now(), known_zone(c.timezone, CAST(:campaign_tz AS text)), :days, :start,
                      :end), p.enrollment_id, p.step
FROM unnest(CAST(:ids AS uuid[]), CAST(:channels AS text[]), CAST(:senders AS uuid[]),
            CAST(:templates AS uuid[]), CAST(:enrollments AS uuid[]), CAST(:steps AS text[]))
     AS p (id, channel, sender_id, template_id, enrollment_id, step)
JOIN campaign_contacts cc ON cc.org_id = :org_id AND cc.id = p.id
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
ON CONFLICT DO NOTHING
""")
CANCEL_FOR_ENROLLMENTS = text("""
UPDATE outbox_messages SET status = 'cancelled', last_error = :reason, lease_until = NULL
WHERE enrollment_id = ANY(CAST(:ids AS uuid[])) AND status IN ('queued', 'awaiting_approval')
""")
STEP_OUTCOMES = text("""
SELECT enrollment_id, step, status, last_error FROM outbox_messages
WHERE enrollment_id = ANY(CAST(:ids AS uuid[]))
""")
CANCEL_QUEUED = text("""
UPDATE outbox_messages SET status = 'cancelled', last_error = :reason, lease_until = NULL
WHERE campaign_id = :campaign_id AND status IN ('queued', 'awaiting_approval')
""")
# -- name: erase-messages (what was written to the person goes; a pending message is cancelled)
ERASE = text("""
UPDATE outbox_messages SET
  subject_override = NULL, body_text_override = NULL, body_html_override = NULL,
  last_error = CASE WHEN status IN ('queued', 'awaiting_approval') THEN :reason END,
  lease_until = CASE WHEN status IN ('queued', 'awaiting_approval') THEN NULL ELSE lease_until END,
  status = CASE WHEN status IN ('queued', 'awaiting_approval') THEN 'cancelled' ELSE status END
WHERE campaign_contact_id = ANY(CAST(:ids AS uuid[]))
""")


def message_domain(from_email: str) -> str:
    return from_email.rpartition("@")[2] or "localhost"


def message_id_for(outbox_id: uuid.UUID, from_email: str) -> str:
    """Stable per outbox row (one per campaign, contact and step), so a retry keeps it."""
    return f"<{outbox_id}@{message_domain(from_email)}>"


async def release_expired_leases(session: AsyncSession) -> int:
    return (await session.execute(RELEASE_EXPIRED)).rowcount  # type: ignore[attr-defined,no-any-return]


async def lock_senders_with_due(session: AsyncSession) -> Sequence[Sender]:
    return (await session.execute(SENDERS_WITH_DUE)).scalars().all()


async def usage(session: AsyncSession, sender_id: uuid.UUID) -> tuple[int, int]:
    row = (await session.execute(USAGE, {"sender_id": sender_id})).one()
    return int(row.last_hour), int(row.last_day)


async def add_usage(session: AsyncSession, sender: Sender, sends: int) -> None:
    await session.execute(
        ADD_USAGE, {"org_id": sender.org_id, "sender_id": sender.id, "sends": sends}
    )


async def recent_results(
    session: AsyncSession, sender_id: uuid.UUID, since: datetime | None, window: int
) -> RowMapping:
    params = {"sender_id": sender_id, "since": since, "window": window}
    return (await session.execute(RECENT_RESULTS, params)).mappings().one()


async def claim(
    session: AsyncSession, *, sender: Sender | None, limit: int, lease: timedelta
) -> list[uuid.UUID]:
    """Claims up to `limit` due messages of a sender (or SMS messages when None); answers the
    ids now `sending`."""
    params: dict[str, Any] = {"limit": limit, "lease": lease}
    if sender is None:
        rows = await session.execute(CLAIM_SMS, params)
    else:
        domain = message_domain(sender.from_email)
        rows = await session.execute(
            CLAIM_FOR_SENDER, params | {"sender_id": sender.id, "domain": domain}
        )
    return [row.id for row in rows if row.status == "sending"]


async def claimed_messages(session: AsyncSession, ids: list[uuid.UUID]) -> Sequence[RowMapping]:
    return (await session.execute(CLAIMED_MESSAGES, {"ids": ids})).mappings().all()


async def note_next_due(session: AsyncSession, org_id: uuid.UUID) -> None:
    await hold_due_times(session, org_id)
    await session.execute(NEXT_DUE, {"org_id": org_id})


async def retry_org_at(session: AsyncSession, org_id: uuid.UUID, at: datetime) -> None:
    await session.execute(RETRY_SOON, {"org_id": org_id, "at": at})


MARK_ACCEPTED = """UPDATE outbox_messages SET status = 'accepted', sent_at = clock_timestamp(),
  message_id = %s, provider_message_id = %s, last_error = NULL
WHERE id = %s"""


async def acceptance_connection(dsn: str, org_id: uuid.UUID) -> psycopg.AsyncConnection[Any]:
    """A connection of its own for one batch's `mark_accepted` commits, in autocommit, with
    the organization set for its session: it is closed with the batch, never pooled, so the
    setting cannot reach anything else, and each commit is one statement, one round trip."""
    return await org_connection(dsn, org_id)


async def mark_accepted(
    connection: psycopg.AsyncConnection[Any],
    outbox_id: uuid.UUID,
    message_id: str | None,
    response: str,
) -> None:
    """The server took the message (250): committed before the next message is sent, so a
    crash re-sends at most this one. Its event is recorded with the rest of the batch
    (`finish_accepted`), or by the next claim if this worker dies first."""
    await connection.execute(MARK_ACCEPTED, [message_id, response[:500], outbox_id])


async def lock_accepted(
    session: AsyncSession, ids: list[uuid.UUID] | None = None
) -> Sequence[RowMapping]:
    """Accepted messages to mark sent, locked: these `ids`, or those whose worker's lease ran
    out. Answers them, for their events."""
    statement = ACCEPTED_THESE if ids is not None else ACCEPTED_ABANDONED
    return (await session.execute(statement, {"ids": ids})).mappings().all()


async def finish_accepted(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Locked accepted messages marked sent (which wakes the walks waiting for them)."""
    await session.execute(FINISH, {"ids": ids})


async def release(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Claimed messages this worker will not try after all (it is stopping): due again now."""
    await session.execute(
        text("""UPDATE outbox_messages SET status = 'queued', lease_until = NULL,
                  attempts = attempts - 1 WHERE id = ANY(:ids) AND status = 'sending'"""),
        {"ids": ids},
    )


async def mark_failed(session: AsyncSession, outbox_id: uuid.UUID, error: str) -> None:
    await session.execute(
        text("""UPDATE outbox_messages SET status = 'failed', lease_until = NULL,
                  last_error = :error WHERE id = :id"""),
        {"id": outbox_id, "error": error[:1000]},
    )


async def requeue(
    session: AsyncSession, outbox_id: uuid.UUID, due_at: datetime, error: str
) -> None:
    await session.execute(
        text("""UPDATE outbox_messages SET status = 'queued', lease_until = NULL,
                  due_at = :due_at, last_error = :error WHERE id = :id"""),
        {"id": outbox_id, "due_at": due_at, "error": error[:1000]},
    )


async def set_contact_error(
    session: AsyncSession, campaign_contact_id: uuid.UUID, error: str
) -> None:
    await session.execute(
        text("UPDATE campaign_contacts SET error_message = :error WHERE id = :id"),
        {"id": campaign_contact_id, "error": error[:1000]},
    )


async def pause_sender(session: AsyncSession, sender: Sender, reason: str) -> None:
    """The circuit breaker: the sender stops, and its campaigns say why."""
    await session.execute(
        text("UPDATE senders SET paused_at = now(), paused_reason = :reason WHERE id = :id"),
        {"id": sender.id, "reason": reason},
    )
    await session.execute(
        text("""UPDATE campaigns SET last_error = :reason
                WHERE status = 'active' AND id IN (
                  SELECT DISTINCT campaign_id FROM outbox_messages
                  WHERE sender_id = :id AND status = 'queued')"""),
        {"id": sender.id, "reason": reason},
    )


async def set_next_send_at(session: AsyncSession, sender_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        text("UPDATE senders SET next_send_at = :at WHERE id = :id"), {"id": sender_id, "at": at}
    )


async def enqueue(session: AsyncSession, params: dict[str, Any]) -> None:
    await session.execute(ENQUEUE, params)


async def cancel_queued(session: AsyncSession, campaign_id: uuid.UUID, reason: str) -> None:
    await session.execute(CANCEL_QUEUED, {"campaign_id": campaign_id, "reason": reason})


async def cancel_for_enrollments(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID], reason: str
) -> None:
    await session.execute(CANCEL_FOR_ENROLLMENTS, {"ids": list(enrollment_ids), "reason": reason})


async def step_outcomes(
    session: AsyncSession, enrollment_ids: Sequence[uuid.UUID]
) -> Sequence[RowMapping]:
    rows = await session.execute(STEP_OUTCOMES, {"ids": list(enrollment_ids)})
    return rows.mappings().all()


async def decide(
    session: AsyncSession, message_ids: Collection[uuid.UUID], values: dict[str, Any]
) -> None:
    """Apply an approval decision to messages already locked and checked by the caller."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(message_ids))
        .values(decided_at=func.now(), **values)
        .execution_options(synchronize_session=False)
    )


async def erase(session: AsyncSession, member_ids: Sequence[uuid.UUID], reason: str) -> int:
    result = await session.execute(ERASE, {"ids": list(member_ids), "reason": reason})
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
