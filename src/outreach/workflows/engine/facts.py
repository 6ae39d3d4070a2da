"""The facts condition nodes read, loaded for a whole batch of campaign contacts at once: the
person (fields, score, tags, time zone, enrollment time) in one query, their human events in
this campaign in another (conditions.py evaluates them).

Read-only SQL over `contacts`, `campaign_contacts`, `campaigns`, `campaign_workflow_states`
and `engagement_events`: no owner is called, as nothing is written here.
"""

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.workflows.engine.conditions import Facts
from outreach.workflows.graph.conditions import CONTACT_FIELDS, CUSTOM_PREFIX

# The engagement event types each Condition.event_type counts.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "opened": ("opened",),
    "clicked": ("clicked",),
    "replied": ("response_received",),
    "converted": ("converted",),
    "unsubscribed": ("unsubscribed",),
    "bounced": ("bounced",),
    "sent": ("email_sent", "sms_sent", "linkedin_sent", "call_completed", "letter_sent"),
}
# Event times kept per contact and condition event: a count condition sees at most this many
# (">= 100 opens" is as far as a condition can tell), so one contact whose opens are counted
# in thousands costs no more than any other.
EVENTS_KEPT = 100

_PEOPLE = text("""
SELECT cc.id, c.email, c.first_name, c.last_name, c.company_name, c.title, c.phone,
       c.linkedin_url, c.lead_tier, c.timezone, c.score, c.tags, c.custom_fields,
       ca.timezone AS campaign_timezone, s.started_at AS enrolled_at
FROM campaign_contacts cc
JOIN contacts c ON c.org_id = cc.org_id AND c.id = cc.contact_id
JOIN campaigns ca ON ca.org_id = cc.org_id AND ca.id = cc.campaign_id
LEFT JOIN campaign_workflow_states s ON s.org_id = cc.org_id AND s.campaign_contact_id = cc.id
WHERE cc.campaign_id = :campaign_id AND cc.id = ANY(:ids)
""")

# -- name: human-events. The newest EVENTS_KEPT times per contact and condition event.
_EVENTS = text("""
SELECT campaign_contact_id, kind, array_agg(at ORDER BY at DESC) AS moments
FROM (
  SELECT e.campaign_contact_id, k.kind, e.event_timestamp AS at,
         row_number() OVER (PARTITION BY e.campaign_contact_id, k.kind
                            ORDER BY e.event_timestamp DESC) AS newest
  FROM engagement_events e
  JOIN unnest(CAST(:event_types AS text[]), CAST(:kinds AS text[])) AS k (event_type, kind)
    ON k.event_type = e.event_type
  WHERE e.campaign_id = :campaign_id AND e.campaign_contact_id = ANY(:ids)
    AND NOT e.is_machine
) kept
WHERE newest <= :kept
GROUP BY campaign_contact_id, kind
""")


async def facts_for(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    campaign_contact_ids: Iterable[uuid.UUID],
    now: datetime,
) -> dict[uuid.UUID, Facts]:
    """The facts of each of the campaign's contacts among `campaign_contact_ids` (others are
    left out), as of `now` (the engine's clock). A contact not enrolled yet counts as
    enrolled `now`."""
    ids = list(campaign_contact_ids)
    if not ids:
        return {}
    params = {"campaign_id": campaign_id, "ids": ids}
    event_types, kinds = zip(
        *((event_type, kind) for kind, types in EVENT_TYPES.items() for event_type in types),
        strict=True,
    )
    events: dict[uuid.UUID, dict[str, list[datetime]]] = {}
    rows = await session.execute(
        _EVENTS,
        params | {"event_types": list(event_types), "kinds": list(kinds), "kept": EVENTS_KEPT},
    )
    for contact_id, kind, moments in rows:
        events.setdefault(contact_id, {})[kind] = moments
    people = await session.execute(_PEOPLE, params)
    return {row["id"]: _facts(row, events.get(row["id"], {}), now) for row in people.mappings()}


def _facts(row: RowMapping, events: Mapping[str, list[datetime]], now: datetime) -> Facts:
    fields: dict[str, Any] = {name: row[name] for name in CONTACT_FIELDS}
    fields.update({CUSTOM_PREFIX + key: value for key, value in row["custom_fields"].items()})
    return Facts(
        fields=fields,
        score=row["score"],
        tags=frozenset(row["tags"]),
        events=events,
        now=now,
        zone=_zone(row["timezone"], row["campaign_timezone"]),
        enrolled_at=row["enrolled_at"] or now,
    )


def _zone(*names: str | None) -> ZoneInfo:
    """The first of the names Python's tz database knows, else UTC: zones are checked against
    PostgreSQL's tz database (kit/timezones), which may know one that Python's does not."""
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
