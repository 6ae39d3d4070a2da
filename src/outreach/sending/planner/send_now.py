"""The explicit send call: a person starts contacts of an active campaign now (the only way a
manual campaign sends), within the campaign's lead limits."""

import uuid

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.tokens import Principal
from outreach.campaigns.service import get_writable_campaign
from outreach.config import Settings
from outreach.errors import Conflict
from outreach.sending.planner.service import plan_campaign


class SendNowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign_contact_ids: list[uuid.UUID] | None = Field(
        None,
        max_length=1000,
        description="The campaign contacts to start; absent: the next ones, oldest first",
    )


class SendNowOut(BaseModel):
    started: int = Field(description="Contacts started now")
    queued: int = Field(description="Of those, messages queued to send (email, SMS)")
    tasks: int = Field(description="Of those, tasks for the owner (LinkedIn, call, letter)")
    unreachable: int = Field(description="Started but no allocated channel can reach them")
    by_channel: dict[str, int]


async def send_now(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    campaign_id: uuid.UUID,
    body: SendNowIn,
) -> SendNowOut:
    campaign = await get_writable_campaign(session, principal, campaign_id)
    if campaign.status != "active":
        raise Conflict(
            "CAMPAIGN_NOT_ACTIVE",
            "Only an active campaign sends",
            f"The campaign is {campaign.status}: activate or resume it first.",
        )
    result = await plan_campaign(
        session, campaign, settings, only=body.campaign_contact_ids, approved=True
    )
    if result.limit_reached == "daily":
        raise Conflict(
            "CAMPAIGN_SEND_LIMIT_EXCEEDED",
            f"Daily lead limit reached ({campaign.daily_lead_limit})",
            "Wait until tomorrow (in the campaign's time zone) or raise daily_lead_limit.",
        )
    if result.limit_reached == "total":
        raise Conflict(
            "CAMPAIGN_SEND_LIMIT_EXCEEDED",
            f"Total lead limit reached ({campaign.total_lead_limit})",
            "Raise total_lead_limit to start more contacts.",
        )
    return SendNowOut(
        started=result.started,
        queued=result.queued,
        tasks=result.tasks,
        unreachable=result.unreachable,
        by_channel=result.by_channel,
    )
