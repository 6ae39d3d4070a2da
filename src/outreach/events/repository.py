"""Event queries: lock contacts, append events, write contacts and counters, suppress."""

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.events.state import ENGAGEMENT_FIELDS, Engagement

_LOCK_CONTACTS = text(f"""
SELECT cc.id, cc.campaign_id, p.email, {", ".join(f"cc.{f}" for f in ENGAGEMENT_FIELDS)}
FROM campaign_contacts cc
JOIN contacts p ON p.org_id = cc.org_id AND p.id = cc.contact_id
WHERE cc.id = ANY(CAST(:ids AS uuid[]))
ORDER BY cc.id
FOR NO KEY UPDATE OF cc
""")  # noqa: S608 - the column names are the Engagement dataclass's own fields

# Duplicates by provider event id are skipped by the unique index, in the same statement.
_APPEND_EVENTS = text("""
INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type,
  event_data, event_timestamp, tracking_id, user_agent, ip_address, clicked_url, provider,
  provider_event_id, is_machine)
SELECT :org_id, e.campaign_id, e.campaign_contact_id, e.event_type,
  coalesce(e.event_data, '{}'), e.event_timestamp, e.tracking_id, e.user_agent,
  e.ip_address::inet, e.clicked_url, e.provider, e.provider_event_id,
  coalesce(e.is_machine, false)
FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e (
  campaign_id uuid, campaign_contact_id uuid, event_type text, event_data jsonb,
  event_timestamp timestamptz, tracking_id text, user_agent text, ip_address text,
  clicked_url text, provider text, provider_event_id text, is_machine boolean)
ON CONFLICT (org_id, provider, provider_event_id) DO NOTHING
RETURNING id, campaign_contact_id, event_type, event_timestamp, is_machine, event_data,
  provider_event_id
""")

# Workflow events: the log of the sequences' steps. No provider id, no counter, no contact state.
_APPEND_WORKFLOW_EVENTS = text("""
INSERT INTO engagement_events (org_id, campaign_id, campaign_contact_id, event_type,
  event_data, event_timestamp, node_id, enrollment_id)
SELECT :org_id, e.campaign_id, e.campaign_contact_id, e.event_type, e.event_data,
  e.event_timestamp, e.node_id, e.enrollment_id
FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e (
  campaign_id uuid, campaign_contact_id uuid, event_type text, event_data jsonb,
  event_timestamp timestamptz, node_id text, enrollment_id uuid)
""")

_TIMESTAMPS = [f for f in ENGAGEMENT_FIELDS if f.endswith("_at")]
_WRITE_CONTACTS = text(f"""
UPDATE campaign_contacts cc SET
  {", ".join(f"{f} = r.{f}" for f in ENGAGEMENT_FIELDS)}, status = r.status
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r (
  id uuid, status text, {", ".join(f"{f} timestamptz" for f in _TIMESTAMPS)},
  bounce_type text, response_text text, conversion_type text, conversion_entity_id uuid,
  error_message text)
WHERE cc.id = r.id
""")  # noqa: S608 - the column names are the Engagement dataclass's own fields

_SUPPRESS = text("""
INSERT INTO suppressions (org_id, email, reason, campaign_id, event_id)
SELECT :org_id, s.email, s.reason, s.campaign_id, s.event_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s (
  email text, reason text, campaign_id uuid, event_id uuid)
ON CONFLICT (org_id, email_hash) DO NOTHING  -- the hash: an erased person's row has no email
""")


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


async def lock_contacts(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, str | None, Engagement]]:
    """Each existing contact of these ids (locked, in id order so that concurrent writers
    never wait on each other in a cycle): its campaign, email and engagement. NO KEY UPDATE:
    the messages and tasks the workflow engine adds for a contact take KEY SHARE locks on it
    while the engine holds the contact's walk, which the event's wake-up trigger updates; a
    stronger lock here would make the two wait on each other."""
    rows = await session.execute(_LOCK_CONTACTS, {"ids": sorted(set(ids))})
    found = {}
    for row in rows.mappings():
        engagement = Engagement(**{f: row[f] for f in ENGAGEMENT_FIELDS})
        found[row["id"]] = (row["campaign_id"], row["email"], engagement)
    return found


async def append_events(
    session: AsyncSession, org_id: uuid.UUID, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Insert these events; answers the ones inserted (a provider's retry is not)."""
    rows = await session.execute(_APPEND_EVENTS, {"org_id": org_id, "events": _json(events)})
    return [dict(row) for row in rows.mappings()]


async def append_workflow_events(
    session: AsyncSession, org_id: uuid.UUID, events: list[dict[str, Any]]
) -> None:
    await session.execute(_APPEND_WORKFLOW_EVENTS, {"org_id": org_id, "events": _json(events)})


async def write_contacts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_WRITE_CONTACTS, {"rows": _json(rows)})


async def add_to_counters(
    session: AsyncSession, campaign_id: uuid.UUID, deltas: dict[str, int]
) -> None:
    """Counter names come from the event state module's fixed tables, never from input."""
    assignments = ", ".join(f"{name} = {name} + :{name}" for name in sorted(deltas))
    await session.execute(
        text(f"UPDATE campaigns SET {assignments} WHERE id = :campaign_id"),  # noqa: S608
        {**deltas, "campaign_id": campaign_id},
    )


async def suppress(session: AsyncSession, org_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(_SUPPRESS, {"org_id": org_id, "rows": _json(rows)})


# What each counter is, recomputed from the contacts and events themselves (the reconciliation
# job's and the tests' reference). Must name the same counters as the event state module.
CONTACT_COUNTER_SQL = {
    "contacts_reached": "count(coalesce(sent_at, opened_at, responded_at, converted_at))",
    "emails_sent": "count(email_sent_at)",
    "linkedin_messages_sent": "count(linkedin_sent_at)",
    "responses_received": "count(responded_at)",
    "conversions": "count(converted_at)",
    "emails_delivered": "count(delivered_at)",
    "emails_bounced": "count(bounced_at)",
    "opens_unique": "count(opened_at)",
    "clicks_unique": "count(clicked_at)",
    "unsubscribes": "count(unsubscribed_at)",
    "complaints": "count(complained_at)",
}
EVENT_COUNTER_SQL = {
    "opens_total": "count(*) FILTER (WHERE event_type = 'opened' AND NOT is_machine)",
    "machine_opens": "count(*) FILTER (WHERE event_type = 'opened' AND is_machine)",
    "clicks_total": "count(*) FILTER (WHERE event_type = 'clicked' AND NOT is_machine)",
    "machine_clicks": "count(*) FILTER (WHERE event_type = 'clicked' AND is_machine)",
}
COUNTERS = (*CONTACT_COUNTER_SQL, *EVENT_COUNTER_SQL)

_LOCK_CAMPAIGNS = text(f"""
SELECT id, {", ".join(COUNTERS)} FROM campaigns
WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE
""")  # noqa: S608 - the names are the constants above
_RECOMPUTE = text(f"""
WITH by_contacts AS (
  SELECT campaign_id, {", ".join(f"{e} AS {n}" for n, e in CONTACT_COUNTER_SQL.items())}
  FROM campaign_contacts WHERE campaign_id = ANY(CAST(:ids AS uuid[])) GROUP BY campaign_id
), by_events AS (
  SELECT campaign_id, {", ".join(f"{e} AS {n}" for n, e in EVENT_COUNTER_SQL.items())}
  FROM engagement_events WHERE campaign_id = ANY(CAST(:ids AS uuid[])) GROUP BY campaign_id
)
SELECT c.id,
  {", ".join(f"coalesce(by_contacts.{n}, 0) AS {n}" for n in CONTACT_COUNTER_SQL)},
  {", ".join(f"coalesce(by_events.{n}, 0) AS {n}" for n in EVENT_COUNTER_SQL)}
FROM campaigns c
LEFT JOIN by_contacts ON by_contacts.campaign_id = c.id
LEFT JOIN by_events ON by_events.campaign_id = c.id
WHERE c.id = ANY(CAST(:ids AS uuid[]))
""")  # noqa: S608 - the names and expressions are the constants above


async def lock_counters(
    session: AsyncSession, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """The counters as the campaigns hold them, locked: no event can move them until commit."""
    rows = await session.execute(_LOCK_CAMPAIGNS, {"ids": campaign_ids})
    return {row["id"]: {n: row[n] for n in COUNTERS} for row in rows.mappings()}


async def recomputed_counters(
    session: AsyncSession, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    rows = await session.execute(_RECOMPUTE, {"ids": campaign_ids})
    return {row["id"]: {n: row[n] for n in COUNTERS} for row in rows.mappings()}


async def set_counters(
    session: AsyncSession, campaign_id: uuid.UUID, values: dict[str, int]
) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in sorted(values))
    await session.execute(
        text(f"UPDATE campaigns SET {assignments} WHERE id = :campaign_id"),  # noqa: S608
        {**values, "campaign_id": campaign_id},
    )


async def campaigns_to_reconcile(session: AsyncSession) -> list[uuid.UUID]:
    """The organization's campaigns whose counters can still move."""
    rows = await session.execute(
        text("SELECT id FROM campaigns WHERE status <> 'archived' ORDER BY id")
    )
    return list(rows.scalars())


# -- name: erase-event-details (the event, its type, time and machine flag stay: counters
# count them; where it came from and what it said go)
_ERASE_DETAILS = text("""
UPDATE engagement_events SET ip_address = NULL, user_agent = NULL,
  clicked_url = split_part(split_part(clicked_url, '#', 1), '?', 1),
  event_data = (SELECT coalesce(jsonb_object_agg(key, value), '{}') FROM jsonb_each(event_data)
                WHERE key = ANY(CAST(:kept AS text[])))
WHERE campaign_contact_id = ANY(CAST(:ids AS uuid[]))
""")


async def erase_details(
    session: AsyncSession, member_ids: list[uuid.UUID], kept_keys: list[str]
) -> int:
    result = await session.execute(_ERASE_DETAILS, {"ids": member_ids, "kept": kept_keys})
    return result.rowcount  # type: ignore[attr-defined,no-any-return]
