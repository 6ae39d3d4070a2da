"""The writer of `campaign_workflows` (drafts) and `campaign_versions` (immutable snapshots)."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.webhooks import new_signing_secret
from outreach.models import Campaign, CampaignVersion, CampaignWorkflow
from outreach.workflows.versions import keys


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
            trigger_key=keys.new_trigger_key(),
            signing_secret=new_signing_secret(),
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


async def campaign(
    session: AsyncSession, campaign_id: uuid.UUID, *, for_update: bool = False
) -> Campaign | None:
    """A campaign of the session's organization that is not soft-deleted (locked for a change,
    as the campaigns package locks it, so a status change and a publish take turns)."""
    query = select(Campaign).where(Campaign.id == campaign_id, Campaign.deleted_at.is_(None))
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def workflow(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignWorkflow | None:
    return (
        await session.execute(
            select(CampaignWorkflow).where(CampaignWorkflow.campaign_id == campaign_id)
        )
    ).scalar_one_or_none()


async def update_draft(
    session: AsyncSession,
    workflow: CampaignWorkflow,
    canvas: dict[str, Any],
    *,
    changed: bool,
    user_id: uuid.UUID,
) -> None:
    workflow.canvas = canvas
    workflow.draft_changed = changed
    workflow.updated_by = user_id
    await session.flush()
    await session.refresh(workflow, ["updated_at"])  # set by the table's trigger


_TEMPLATES = text("SELECT id, channel, linkedin_kind FROM message_templates WHERE id = ANY(:ids)")


async def templates(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, str | None]]:
    """The channel and LinkedIn kind of each of the templates that exist."""
    rows = await session.execute(_TEMPLATES, {"ids": list(ids)})
    return {row.id: (row.channel, row.linkedin_kind) for row in rows}


async def versions_page(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
) -> Sequence[CampaignVersion]:
    """Up to `limit` versions, newest first, after the (version, id) of a previous page."""
    query = (
        select(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign_id)
        .order_by(CampaignVersion.version.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(CampaignVersion.version < after[0])
    return (await session.execute(query)).scalars().all()
