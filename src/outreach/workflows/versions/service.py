"""Publishing: a campaign's settings, steps and canvas become an immutable, numbered version;
and the workflow routes' rules (the draft, publishing by hand, history, diff, rollback).

A contact walks the version it was enrolled on; new enrollments take the latest. A campaign
that never had a graph drawn publishes the default one (trigger, one message, exit).
"""

import uuid
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, Forbidden, ValidationFailed, not_found
from outreach.kit.keyset import key_after, page_by
from outreach.kit.pagination import Page
from outreach.models import Campaign, CampaignVersion, CampaignWorkflow
from outreach.workflows.graph.default import default_canvas
from outreach.workflows.graph.model import Graph, sequence_type
from outreach.workflows.graph.schemas import CanvasIn
from outreach.workflows.graph.validation import problems, template_ids
from outreach.workflows.versions import keys, repository
from outreach.workflows.versions.diff import edges_diff, nodes_diff, setting_changes
from outreach.workflows.versions.schemas import (
    VersionDetail,
    VersionDiff,
    VersionOut,
    VersionStepOut,
    WorkflowOut,
)

# The campaign settings a version keeps (what the engine and a reader of history need).
CAMPAIGN_SETTINGS = (
    "name",
    "description",
    "campaign_type",
    "channel",
    "permission_mode",
    "template_id",
    "is_ab_test",
    "variant_a_template_id",
    "variant_b_template_id",
    "ab_split_percentage",
    "email_allocation",
    "linkedin_allocation",
    "voice_allocation",
    "sms_allocation",
    "mail_allocation",
    "daily_lead_limit",
    "total_lead_limit",
    "sender_id",
    "timezone",
    "send_days",
    "send_start",
    "send_end",
    "start_date",
    "end_date",
    "target_contacts_count",
    "target_response_rate",
    "target_conversion_count",
)
_JSON: TypeAdapter[Any] = TypeAdapter(Any)


def campaign_snapshot(campaign: Campaign) -> dict[str, Any]:
    settings = {name: getattr(campaign, name) for name in CAMPAIGN_SETTINGS}
    snapshot: dict[str, Any] = _JSON.dump_python(settings, mode="json")
    return snapshot


def steps_snapshot(graph: Graph) -> list[dict[str, Any]]:
    """Every node with its typed config (defaults filled in), as the engine will read it."""
    return [
        {
            "node_id": node.id,
            "node_type": node.type,
            "label": node.label,
            "config": node.config.model_dump(mode="json"),
            "next": [
                {"edge_id": edge.id, "type": edge.type, "target": edge.target}
                for edge in graph.edges.get(node.id, ())
            ],
        }
        for node in graph.nodes.values()
    ]


async def draft(
    session: AsyncSession, campaign: Campaign, user_id: uuid.UUID | None = None
) -> CampaignWorkflow:
    """The campaign's draft row, locked; created with the default graph the first time."""
    found = await repository.workflow_for_update(session, campaign.id)
    if found is not None:
        return found
    canvas = default_canvas().model_dump(mode="json")
    return await repository.create_workflow(session, campaign.org_id, campaign.id, canvas, user_id)


async def publish(
    session: AsyncSession,
    campaign: Campaign,
    *,
    description: str | None = None,
    user_id: uuid.UUID | None = None,
    change_type: str = "published",
) -> int:
    """Publishes the draft as the next version; answers its number. The draft must be valid
    (the caller validated it when it was saved)."""
    workflow = await draft(session, campaign, user_id)
    canvas = CanvasIn.model_validate(workflow.canvas)
    graph = Graph.compile(canvas)
    return await repository.add_version(
        session,
        workflow,
        change_type=change_type,
        description=description,
        campaign_snapshot=campaign_snapshot(campaign),
        steps_snapshot=steps_snapshot(graph),
        canvas_snapshot=canvas.model_dump(mode="json"),
        user_id=user_id,
    )


async def snapshot_version(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    change_type: str,
    description: str,
    user_id: uuid.UUID | None = None,
) -> int | None:
    """Records the published version's content again as the next version of `change_type` (a
    split's winner: `ab_test_completed`), a mark in the history that changes nothing: the
    published version stays the one new enrollments take. None: nothing was published."""
    workflow = await repository.workflow_for_update(session, campaign_id)
    if workflow is None or workflow.published_version is None:
        return None
    published = await repository.version(session, campaign_id, workflow.published_version)
    assert published is not None  # versions are never removed
    return await repository.add_version(
        session,
        workflow,
        change_type=change_type,
        description=description,
        campaign_snapshot=published.campaign_snapshot,
        steps_snapshot=published.steps_snapshot,
        canvas_snapshot=published.canvas_snapshot,
        user_id=user_id,
    )


async def ensure_published(
    session: AsyncSession, campaign: Campaign, user_id: uuid.UUID | None = None
) -> int:
    """The version new enrollments take: the latest, after publishing the draft if it changed
    since (or was never published)."""
    workflow = await draft(session, campaign, user_id)
    if workflow.published_version is not None and not workflow.draft_changed:
        return workflow.published_version
    return await publish(session, campaign, user_id=user_id)


async def graph_of(session: AsyncSession, campaign_id: uuid.UUID, number: int) -> Graph:
    """The compiled graph of a version (versions never change, so it is kept once read)."""
    cached = _compiled.get((campaign_id, number))
    if cached is not None:
        return cached
    found = await repository.version(session, campaign_id, number)
    if found is None:
        raise not_found("Version")
    return _remember(campaign_id, number, found.canvas_snapshot)


_compiled: dict[tuple[uuid.UUID, int], Graph] = {}
_CACHED_GRAPHS = 2048


def _remember(campaign_id: uuid.UUID, number: int, canvas: dict[str, Any]) -> Graph:
    graph = Graph.compile(CanvasIn.model_validate(canvas))
    if len(_compiled) >= _CACHED_GRAPHS:
        _compiled.pop(next(iter(_compiled)))
    _compiled[(campaign_id, number)] = graph
    return graph


# -- the routes ------------------------------------------------------------------------------
#
# The draft of an active or paused campaign may be edited: contacts go on walking the version
# they were enrolled on, and the edit reaches new enrollments once it is published.

# Completed and archived campaigns are read-only (campaigns' rule, read here without importing
# campaigns).
READ_ONLY_STATUSES = frozenset({"completed", "archived"})


async def _campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    found = await repository.campaign(session, campaign_id)
    if found is None:
        raise not_found("Campaign")
    return found


async def _writable_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> Campaign:
    """The campaign, locked, if the caller may change it and it is not read-only."""
    found = await repository.campaign(session, campaign_id, for_update=True)
    if found is None:
        raise not_found("Campaign")
    require_owner_or_manager(principal, found.owner_id)
    if found.status in READ_ONLY_STATUSES:
        raise Conflict(
            "CAMPAIGN_READ_ONLY",
            f"Campaign is {found.status} and read-only",
            "The sequence of a completed or archived campaign cannot be changed.",
        )
    return found


def may_edit(principal: Principal, campaign: Campaign) -> bool:
    try:
        require_owner_or_manager(principal, campaign.owner_id)
    except Forbidden:
        return False
    return True


def _workflow_out(
    campaign: Campaign, workflow: CampaignWorkflow, principal: Principal, base_url: str
) -> WorkflowOut:
    canvas = CanvasIn.model_validate(workflow.canvas)
    url = None
    if may_edit(principal, campaign):
        token = keys.mint(workflow.trigger_key, campaign.org_id, campaign.id)
        url = f"{base_url}/api/v1/triggers/{campaign.id}/{token}"
    return WorkflowOut(
        campaign_id=campaign.id,
        canvas=canvas,
        published_version=workflow.published_version,
        draft_changed=workflow.draft_changed,
        sequence_type=sequence_type(canvas),
        trigger_url=url,
        updated_by=workflow.updated_by,
        updated_at=workflow.updated_at,
    )


async def get_workflow(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, base_url: str
) -> WorkflowOut:
    campaign = await _campaign(session, campaign_id)
    workflow = await repository.workflow(session, campaign_id) or await draft(session, campaign)
    return _workflow_out(campaign, workflow, principal, base_url)


async def _check(session: AsyncSession, canvas: CanvasIn) -> None:
    """Refuses a canvas with problems, every one of them named (422 WORKFLOW_INVALID)."""
    templates = await repository.templates(session, template_ids(canvas))
    found = problems(canvas, templates)
    if found:
        raise ValidationFailed(
            "WORKFLOW_INVALID",
            "The workflow has problems",
            f"{len(found)} problem(s): each names its node (nodes.<id>) or edge (edges.<id>).",
            found,
        )


async def save_draft(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    canvas: CanvasIn,
    base_url: str,
) -> WorkflowOut:
    """Validates and saves the draft; `draft_changed` says whether it now differs from the
    latest published version."""
    campaign = await _writable_campaign(session, principal, campaign_id)
    await _check(session, canvas)
    workflow = await draft(session, campaign, principal.user_id)
    content = canvas.model_dump(mode="json")
    published = None
    if workflow.published_version is not None:
        published = await repository.version(session, campaign_id, workflow.published_version)
    changed = published is None or published.canvas_snapshot != content
    await repository.update_draft(
        session, workflow, content, changed=changed, user_id=principal.user_id
    )
    return _workflow_out(campaign, workflow, principal, base_url)


async def publish_draft(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, description: str | None
) -> VersionOut:
    """Publishes the draft (checked again: a template may have gone since it was saved)."""
    campaign = await _writable_campaign(session, principal, campaign_id)
    workflow = await draft(session, campaign, principal.user_id)
    await _check(session, CanvasIn.model_validate(workflow.canvas))
    number = await publish(
        session, campaign, description=description or None, user_id=principal.user_id
    )
    return await _version_out(session, campaign_id, number)


async def _version(session: AsyncSession, campaign_id: uuid.UUID, number: int) -> CampaignVersion:
    found = await repository.version(session, campaign_id, number)
    if found is None:
        raise not_found("Version")
    return found


async def _version_out(session: AsyncSession, campaign_id: uuid.UUID, number: int) -> VersionOut:
    return VersionOut.model_validate(
        await _version(session, campaign_id, number), from_attributes=True
    )


async def list_versions(
    session: AsyncSession, campaign_id: uuid.UUID, cursor: str | None, limit: int
) -> Page[VersionOut]:
    await _campaign(session, campaign_id)
    after = key_after(cursor, int)
    rows = await repository.versions_page(session, campaign_id, after, limit + 1)
    return page_by(
        rows,
        limit,
        lambda row: VersionOut.model_validate(row, from_attributes=True),
        lambda row: (row.version, row.id),
    )


async def get_version(session: AsyncSession, campaign_id: uuid.UUID, number: int) -> VersionDetail:
    await _campaign(session, campaign_id)
    found = await _version(session, campaign_id, number)
    return VersionDetail(
        version=found.version,
        change_type=found.change_type,
        change_description=found.change_description,
        created_by=found.created_by,
        created_at=found.created_at,
        campaign=found.campaign_snapshot,
        steps=[VersionStepOut.model_validate(step) for step in found.steps_snapshot],
        canvas=CanvasIn.model_validate(found.canvas_snapshot),
    )


async def diff_versions(
    session: AsyncSession, campaign_id: uuid.UUID, a: int, b: int
) -> VersionDiff:
    await _campaign(session, campaign_id)
    before, after = await _version(session, campaign_id, a), await _version(session, campaign_id, b)
    old = CanvasIn.model_validate(before.canvas_snapshot)
    new = CanvasIn.model_validate(after.canvas_snapshot)
    return VersionDiff(
        from_version=a,
        to_version=b,
        nodes=nodes_diff(old, new),
        edges=edges_diff(old, new),
        campaign_changes=setting_changes(before.campaign_snapshot, after.campaign_snapshot),
        settings_changes=setting_changes(
            old.settings.model_dump(mode="json"), new.settings.model_dump(mode="json")
        ),
    )


async def rollback(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    number: int,
    description: str | None,
) -> VersionOut:
    """Version `number`'s canvas becomes the draft and is published as a new version. The
    campaign's settings are the campaigns package's to change: the new version snapshots them
    as they are now."""
    campaign = await _writable_campaign(session, principal, campaign_id)
    target = await _version(session, campaign_id, number)
    canvas = CanvasIn.model_validate(target.canvas_snapshot)
    await _check(session, canvas)
    workflow = await draft(session, campaign, principal.user_id)
    await repository.update_draft(
        session,
        workflow,
        canvas.model_dump(mode="json"),
        changed=True,
        user_id=principal.user_id,
    )
    note = f"Rollback to version {number}" + (f": {description}" if description else "")
    published = await publish(session, campaign, description=note, user_id=principal.user_id)
    return await _version_out(session, campaign_id, published)
