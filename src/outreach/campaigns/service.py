"""Campaign business rules: creation, edits by status, the status workflow."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.campaigns import repository
from outreach.campaigns.rules import READ_ONLY_STATUSES
from outreach.errors import Conflict, not_found
from outreach.models import Campaign


async def get_readable_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    campaign = await repository.get_campaign(session, campaign_id)
    if campaign is None:
        raise not_found("Campaign")
    return campaign


async def get_writable_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> Campaign:
    """The campaign, locked for this transaction, if the caller may change it and it is not
    read-only (completed or archived)."""
    campaign = await repository.get_campaign(session, campaign_id, for_update=True)
    if campaign is None:
        raise not_found("Campaign")
    require_owner_or_manager(principal, campaign.owner_id)
    if campaign.status in READ_ONLY_STATUSES:
        raise campaign_read_only(campaign)
    return campaign


def campaign_read_only(campaign: Campaign) -> Conflict:
    return Conflict(
        "CAMPAIGN_READ_ONLY",
        f"Campaign is {campaign.status} and read-only",
        "Completed and archived campaigns cannot be changed.",
    )
