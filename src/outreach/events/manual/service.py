"""Manual events: a person logs what happened outside the tracked channels on a campaign's
contact. Above campaigns and contacts, which it reads; the recording is the events core's."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.campaigns.repository import CampaignFacts
from outreach.campaigns.rules import CONVERSION_TYPES, CampaignType
from outreach.campaigns.service import campaign_read_only, get_campaign_facts
from outreach.contacts import service as contacts_service
from outreach.errors import FieldError, ValidationFailed
from outreach.events.manual.schemas import ManualEventIn, ManualEventOut
from outreach.events.service import NewEvent, record_events
from outreach.events.state import EventType
from outreach.models.campaign import CampaignStatus


async def record_manual_event(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    member_id: uuid.UUID,
    body: ManualEventIn,
) -> ManualEventOut:
    """A reply, conversion or step on a channel without an API (LinkedIn, a call, a letter,
    an SMS sent by hand) logged by a person. Any contact of the campaign may have one,
    contacted yet or not: a reply may come by phone."""
    campaign = await get_campaign_facts(session, campaign_id)
    require_owner_or_manager(principal, campaign.owner_id)
    if campaign.status == CampaignStatus.ARCHIVED:
        raise campaign_read_only(campaign)
    member = await contacts_service.get_member(session, campaign_id, member_id)
    event = NewEvent(
        campaign_contact_id=member.id,
        event_type=EventType(body.event_type),
        occurred_at=_occurred_at(body),
        data=_manual_data(campaign, body),
    )
    [outcome] = await record_events(session, principal.org_id, [event])
    return ManualEventOut(
        outcome=outcome, contact=await contacts_service.get_member(session, campaign_id, member_id)
    )


def _occurred_at(body: ManualEventIn) -> datetime:
    now = datetime.now(UTC)
    if body.occurred_at is None:
        return now
    if body.occurred_at > now + timedelta(minutes=5):
        raise ValidationFailed.field(
            "occurred_at", "EVENT_IN_FUTURE", "An event cannot have happened in the future"
        )
    return body.occurred_at


def _manual_data(campaign: CampaignFacts, body: ManualEventIn) -> dict[str, Any]:
    errors: list[FieldError] = []
    if body.event_type != "response_received":
        errors += [
            FieldError(name, "FIELD_NOT_ALLOWED", f"{name} goes with response_received only")
            for name in ("response_text", "channel")
            if getattr(body, name) is not None
        ]
    if body.event_type != "converted":
        errors += [
            FieldError(name, "FIELD_NOT_ALLOWED", f"{name} goes with converted only")
            for name in ("conversion_type", "conversion_entity_id")
            if getattr(body, name) is not None
        ]
    if body.event_type != "call_completed" and body.call_outcome is not None:
        errors.append(
            FieldError("call_outcome", "FIELD_NOT_ALLOWED", "call_outcome goes with call_completed")
        )
    allowed = CONVERSION_TYPES[CampaignType(campaign.campaign_type)]
    if body.event_type == "converted" and body.conversion_type not in allowed:
        errors.append(
            FieldError(
                "conversion_type",
                "CONVERSION_TYPE_INVALID",
                f"A {campaign.campaign_type} campaign converts by {', '.join(sorted(allowed))}",
            )
        )
    if errors:
        raise ValidationFailed(errors=errors)
    data = body.model_dump(
        mode="json",
        include={
            "response_text",
            "channel",
            "conversion_type",
            "conversion_entity_id",
            "call_outcome",
        },
        exclude_none=True,
    )
    return {**data, "source": "manual"}
