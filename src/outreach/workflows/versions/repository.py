"""The writer of `campaign_workflows` (drafts) and `campaign_versions` (immutable snapshots)."""

import secrets
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import CampaignVersion, CampaignWorkflow


async def workflow_for_update(
    session: AsyncSession, campaign_id: uuid.UUID
) -> CampaignWorkflow | None:
    """The campaign's draft row, locked: publishing and editing take turns."""
    return (
        await session.execute(
            select(CampaignWorkflow)
            .where(CampaignWorkflow.campaign_id == campaign_id)
            .with_for_update()
        )
    ).scalar_one_or_none()


async def create_workflow(
    session: AsyncSession,
    org_id: uuid.UUID,
    campaign_id: uuid.UUID,
    canvas: dict[str, Any],
    user_id: uuid.UUID | None,
) -> CampaignWorkflow:
    """The campaign's draft row with `canvas` (a concurrent creator wins; its row is answered)."""
    await session.execute(
        insert(CampaignWorkflow)
        .values(
            org_id=org_id,
            campaign_id=campaign_id,
            canvas=canvas,
            trigger_key=secrets.token_urlsafe(32),
            signing_secret=secrets.token_urlsafe(32),
            updated_by=user_id,
        )
        .on_conflict_do_nothing()
    )
    found = await workflow_for_update(session, campaign_id)
    assert found is not None
    return found


async def add_version(
    session: AsyncSession,
    workflow: CampaignWorkflow,
    *,
    change_type: str,
    description: str | None,
    campaign_snapshot: dict[str, Any],
    steps_snapshot: list[dict[str, Any]],
    canvas_snapshot: dict[str, Any],
    user_id: uuid.UUID | None,
) -> int:
    """Adds the next version (the caller holds the draft row's lock) and answers its number."""
    number: int = (
        await session.execute(
            text(
                "SELECT coalesce(max(version), 0) + 1 FROM campaign_versions "
                "WHERE campaign_id = :campaign_id"
            ),
            {"campaign_id": workflow.campaign_id},
        )
    ).scalar_one()
    session.add(
        CampaignVersion(
            org_id=workflow.org_id,
            campaign_id=workflow.campaign_id,
            version=number,
            change_type=change_type,
            change_description=description,
            campaign_snapshot=campaign_snapshot,
            steps_snapshot=steps_snapshot,
            canvas_snapshot=canvas_snapshot,
            created_by=user_id,
        )
    )
    if change_type == "published":
        workflow.published_version = number
        workflow.draft_changed = False
    await session.flush()
    return number


async def version(
    session: AsyncSession, campaign_id: uuid.UUID, number: int
) -> CampaignVersion | None:
    return (
        await session.execute(
            select(CampaignVersion).where(
                CampaignVersion.campaign_id == campaign_id, CampaignVersion.version == number
            )
        )
    ).scalar_one_or_none()


async def published_version(session: AsyncSession, campaign_id: uuid.UUID) -> int | None:
    return (
        await session.execute(
            select(CampaignWorkflow.published_version).where(
                CampaignWorkflow.campaign_id == campaign_id
            )
        )
    ).scalar_one_or_none()
