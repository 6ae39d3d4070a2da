"""Recording events: appended once, applied to their contacts, counted on their campaigns.

All of it happens in the caller's transaction, so an event, its contact's new state, the
campaign's counters and any suppression it causes are committed together or not at all.
"""

import ipaddress
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.events import repository
from outreach.events.schemas import Outcome
from outreach.events.state import (
    ENGAGEMENT_FIELDS,
    EventType,
    Occurrence,
    advance,
    contact_deltas,
    event_counter,
)


@dataclass(frozen=True)
class NewEvent:
    campaign_contact_id: uuid.UUID
    event_type: EventType
    occurred_at: datetime
    is_machine: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    tracking_id: str | None = None
    user_agent: str | None = None
    ip_address: str | None = None
    clicked_url: str | None = None
    provider: str | None = None
    provider_event_id: str | None = None

    def as_row(self, campaign_id: uuid.UUID) -> dict[str, Any]:
        # Strings already: the JSON encoder then needs no call back for them.
        return {
            "campaign_id": str(campaign_id),
            "campaign_contact_id": str(self.campaign_contact_id),
            "event_type": self.event_type.value,
            "event_data": self.data,
            "event_timestamp": self.occurred_at.isoformat(),
            "tracking_id": self.tracking_id,
            "user_agent": self.user_agent[:512] if self.user_agent else None,
            "ip_address": _valid_ip(self.ip_address),
            "clicked_url": self.clicked_url,
            "provider": self.provider,
            "provider_event_id": self.provider_event_id,
            "is_machine": self.is_machine,
        }


@lru_cache(maxsize=65_536)  # the same readers and proxies come back (see tracking/machines.py)
def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def _occurrence(row: dict[str, Any]) -> Occurrence:
    data = row["event_data"] or {}
    entity = data.get("conversion_entity_id")
    return Occurrence(
        event_type=EventType(row["event_type"]),
        at=row["event_timestamp"],
        is_machine=row["is_machine"],
        bounce_type=data.get("bounce_type"),
        final=bool(data.get("final")),
        reason=data.get("reason"),
        response_text=data.get("response_text"),
        conversion_type=data.get("conversion_type"),
        conversion_entity_id=uuid.UUID(entity) if entity else None,
        event_id=row["id"],
    )


# What puts an address on the do-not-contact list, the strongest reason first.
_SUPPRESSING = (
    (EventType.SPAM_REPORTED, "complaint"),
    (EventType.UNSUBSCRIBED, "unsubscribed"),
    (EventType.BOUNCED, "hard_bounce"),
)


def _suppression(happened: list[Occurrence]) -> tuple[str, Occurrence] | None:
    """The reason and the event that put the address on the list, if one of these does.
    Every new such event does, not only a contact's first: an unsubscribe undone from its
    link (and so lifted) and then made again must suppress again. A suppression already
    there stays as it is."""
    for kind, reason in _SUPPRESSING:
        causes = [
            o
            for o in happened
            if o.event_type is kind and (kind is not EventType.BOUNCED or o.bounce_type == "hard")
        ]
        if causes:
            return reason, min(causes, key=lambda o: o.at)
    return None


@dataclass(frozen=True)
class WorkflowEvent:
    """One step of a sequence, for the event log (a workflow event type of migration
    0009_workflows: `wait_started`, `condition_evaluated`, `enrollment_completed`, ...)."""

    campaign_id: uuid.UUID
    campaign_contact_id: uuid.UUID
    enrollment_id: uuid.UUID
    node_id: str
    event_type: str
    occurred_at: datetime
    data: dict[str, Any] = field(default_factory=dict)


async def record_workflow_events(
    session: AsyncSession, org_id: uuid.UUID, events: list[WorkflowEvent]
) -> None:
    """Append workflow events in one statement. They change no counter and no contact state:
    they say what the engine did, not what a contact did."""
    if events:
        await repository.append_workflow_events(
            session,
            org_id,
            [
                {
                    "campaign_id": str(e.campaign_id),
                    "campaign_contact_id": str(e.campaign_contact_id),
                    "enrollment_id": str(e.enrollment_id),
                    "node_id": e.node_id,
                    "event_type": e.event_type,
                    "event_data": e.data,
                    "event_timestamp": e.occurred_at.isoformat(),
                }
                for e in events
            ],
        )


async def record_events(
    session: AsyncSession, org_id: uuid.UUID, events: list[NewEvent]
) -> list[Outcome]:
    """Record `events` of one organization; answers one outcome per event, in order."""
    contacts = await repository.lock_contacts(session, [e.campaign_contact_id for e in events])
    known = [e for e in events if e.campaign_contact_id in contacts]
    inserted = await repository.append_events(
        session, org_id, [e.as_row(contacts[e.campaign_contact_id][0]) for e in known]
    )

    occurrences: dict[uuid.UUID, list[Occurrence]] = defaultdict(list)
    for row in inserted:
        occurrences[row["campaign_contact_id"]].append(_occurrence(row))
    deltas: dict[uuid.UUID, Counter[str]] = defaultdict(Counter)
    changed, suppressions = [], []
    for contact_id, happened in occurrences.items():
        campaign_id, email, before = contacts[contact_id]
        after = before
        for occurrence in sorted(happened, key=lambda o: o.at):
            after = advance(after, occurrence)
            if counter := event_counter(occurrence):
                deltas[campaign_id][counter] += 1
        deltas[campaign_id].update(contact_deltas(before, after))
        if after != before:
            fields = {name: getattr(after, name) for name in ENGAGEMENT_FIELDS}
            changed.append({"id": contact_id, "status": after.status, **fields})
        if (suppression := _suppression(happened)) and email:
            reason, cause = suppression
            suppressions.append(
                {
                    "email": email.lower(),
                    "reason": reason,
                    "campaign_id": campaign_id,
                    "event_id": cause.event_id,
                }
            )

    await repository.write_contacts(session, changed)
    for campaign_id in sorted(deltas):  # one lock order for every writer
        if moved := {name: n for name, n in deltas[campaign_id].items() if n}:
            await repository.add_to_counters(session, campaign_id, moved)
    await repository.suppress(session, org_id, suppressions)
    return _outcomes(events, contacts.keys(), inserted)


def _outcomes(
    events: list[NewEvent], known: Collection[uuid.UUID], inserted: list[dict[str, Any]]
) -> list[Outcome]:
    new_provider_ids = Counter(row["provider_event_id"] for row in inserted)
    outcomes = []
    for event in events:
        if event.campaign_contact_id not in known:
            outcomes.append(Outcome.UNKNOWN_CONTACT)
        elif event.provider_event_id is None or new_provider_ids[event.provider_event_id] > 0:
            new_provider_ids[event.provider_event_id] -= 1
            outcomes.append(Outcome.RECORDED)
        else:
            outcomes.append(Outcome.DUPLICATE)
    return outcomes


# -- reconciliation ----------------------------------------------------------------------


async def reconcile_counters(
    session: AsyncSession, campaign_ids: list[uuid.UUID] | None = None
) -> dict[uuid.UUID, dict[str, tuple[int, int]]]:
    """Recompute the counters of the organization's campaigns from their contacts and
    events, repair any that drifted, and say which: campaign -> counter -> (held, actual).

    The campaigns are locked first, so no event moves a counter between the recount and the
    repair; events committed before the lock are in the recount, later ones add to it.
    """
    ids = (
        campaign_ids
        if campaign_ids is not None
        else await repository.campaigns_to_reconcile(session)
    )
    if not ids:
        return {}
    held = await repository.lock_counters(session, ids)
    actual = await repository.recomputed_counters(session, ids)
    drift: dict[uuid.UUID, dict[str, tuple[int, int]]] = {}
    for campaign_id in sorted(held):
        wrong = {n: v for n, v in actual[campaign_id].items() if held[campaign_id][n] != v}
        if wrong:
            await repository.set_counters(session, campaign_id, wrong)
            drift[campaign_id] = {n: (held[campaign_id][n], v) for n, v in wrong.items()}
    return drift


# -- erasure -------------------------------------------------------------------------------

# The keys of `event_data` that say nothing about the person (kinds, flags, our own ids); the
# others (a reply's text, a bounce's reason quoting the address, an SMS's number and body) go.
NEUTRAL_DATA_KEYS = (
    "bounce_type",
    "final",
    "channel",
    "provider_type",
    "matched_by",
    "message_id",
    "conversion_type",
    "conversion_entity_id",
)


async def erase_event_details(session: AsyncSession, member_ids: list[uuid.UUID]) -> int:
    """A data-subject erasure: the events of these campaign contacts lose their IP address,
    user agent, the query and fragment of a clicked URL and every personal detail of their
    data. Each event stays, with its type, time and machine flag, so the campaign's counters
    still equal their recount. Answers how many events."""
    if not member_ids:
        return 0
    return await repository.erase_details(session, member_ids, list(NEUTRAL_DATA_KEYS))
