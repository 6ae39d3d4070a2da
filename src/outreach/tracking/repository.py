"""What an unsubscribe link shows and decides: whom it names, and where its contact stands."""

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Locks the campaign contact (as the event recorder does, which takes the same lock again):
# two posts of one link, or an undo beside an unsubscribe, see each other's events.
_MEMBER = text("""
SELECT p.email, o.name AS org_name
FROM campaign_contacts cc
JOIN contacts p ON p.org_id = cc.org_id AND p.id = cc.contact_id
JOIN organizations o ON o.id = cc.org_id
WHERE cc.id = :id
FOR NO KEY UPDATE OF cc
""")
_LINK_EVENTS = text("""
SELECT event_type, id FROM engagement_events
WHERE campaign_contact_id = :id AND provider = :provider
  AND event_type IN ('unsubscribed', 'resubscribed')
""")


@dataclass(frozen=True)
class LinkMember:
    """A campaign contact as its unsubscribe link sees it."""

    org_name: str
    email: str | None  # None once the person was erased
    unsubscribe_ids: list[uuid.UUID]  # the events of its link's unsubscribes
    resubscribes: int  # and of their undos

    @property
    def unsubscribed(self) -> bool:
        """Unsubscribed by its link, and not undone since."""
        return len(self.unsubscribe_ids) > self.resubscribes


async def link_member(
    session: AsyncSession, member_id: uuid.UUID, provider: str
) -> LinkMember | None:
    """The campaign contact, locked, with its link's events (recorded under `provider`);
    None when it is gone (the retention policy)."""
    row = (await session.execute(_MEMBER, {"id": member_id})).one_or_none()
    if row is None:
        return None
    events = (await session.execute(_LINK_EVENTS, {"id": member_id, "provider": provider})).all()
    return LinkMember(
        org_name=row.org_name,
        email=row.email,
        unsubscribe_ids=[event_id for kind, event_id in events if kind == "unsubscribed"],
        resubscribes=sum(kind == "resubscribed" for kind, _ in events),
    )
