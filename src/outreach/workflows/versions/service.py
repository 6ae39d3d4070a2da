"""Publishing: a campaign's settings, steps and canvas become an immutable, numbered version.

A contact walks the version it was enrolled on; new enrollments take the latest. A campaign
that never had a graph drawn publishes the default one (trigger, one message, exit).
"""

import uuid
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.errors import not_found
from outreach.models import Campaign, CampaignWorkflow
from outreach.workflows.graph.default import default_canvas
from outreach.workflows.graph.model import Graph
from outreach.workflows.graph.schemas import CanvasIn
from outreach.workflows.versions import repository

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
