"""Tag, score and field actions, for many contacts at once: each contact's outcome is the event
the engine logs for it, or the reason that contact's step failed (the others go on)."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.contacts import service as contacts
from outreach.workflows.graph.schemas import FieldUpdateAction, ScoreAction, TagAction

ContactAction = TagAction | ScoreAction | FieldUpdateAction
ActionEvent = Literal["tag_added", "tag_removed", "score_updated", "field_updated"]


@dataclass(frozen=True)
class ActionOutcome:
    """One contact's outcome: done (`event_type` with its `data`), or failed (`code` and
    `message`; the same config fails the same way, so a retry cannot help)."""

    contact_id: uuid.UUID
    event_type: ActionEvent
    data: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is None


def _outcomes(
    event_type: ActionEvent, changes: dict[uuid.UUID, contacts.ContactChange]
) -> dict[uuid.UUID, ActionOutcome]:
    return {
        contact_id: ActionOutcome(contact_id, event_type, change.data, change.code, change.message)
        for contact_id, change in changes.items()
    }


async def apply_tags(
    session: AsyncSession, action: TagAction, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ActionOutcome]:
    """`tag_added` (`tag_removed` for an action that only removes), with `added` and
    `removed`: the tags that changed."""
    changes = await contacts.change_tags(session, contact_ids, add=action.add, remove=action.remove)
    return _outcomes("tag_added" if action.add else "tag_removed", changes)


async def apply_score(
    session: AsyncSession, action: ScoreAction, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ActionOutcome]:
    """`score_updated` with `delta`, `from` and `to` (held within the contacts' score bounds)."""
    return _outcomes(
        "score_updated", await contacts.change_score(session, contact_ids, action.delta)
    )


async def apply_field_update(
    session: AsyncSession, action: FieldUpdateAction, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ActionOutcome]:
    """`field_updated` with `field`, `from` and `to`; a field automation may not set, or a
    value the contacts API would refuse, fails with the API's error code."""
    changes = await contacts.update_field(session, contact_ids, action.field, action.value)
    return _outcomes("field_updated", changes)


async def apply_to_contacts(
    session: AsyncSession, action: ContactAction, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ActionOutcome]:
    """The action's outcome for each of these contacts (organization people ids, each once),
    in the session's transaction (the caller commits)."""
    match action:
        case TagAction():
            return await apply_tags(session, action, contact_ids)
        case ScoreAction():
            return await apply_score(session, action, contact_ids)
        case FieldUpdateAction():
            return await apply_field_update(session, action, contact_ids)
