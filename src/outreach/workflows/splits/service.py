"""Split results and winners: the figures of each split node of a campaign's published
version, computed from what its contacts did after their assignment, stored in
`campaign_ab_test_results`, and the winner declared by hand or by the winner rule."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, NotFound, not_found
from outreach.workflows.graph.schemas import ABTestConfig, SplitConfig
from outreach.workflows.splits import repository
from outreach.workflows.splits.repository import Campaign, DeclaredWinner
from outreach.workflows.splits.schemas import (
    AbTestsOut,
    SplitTestOut,
    VariantResultOut,
)
from outreach.workflows.splits.statistics import SplitVerdict, judge, test_of
from outreach.workflows.versions import service as versions

AB_TEST_COMPLETED = "ab_test_completed"


@dataclass(frozen=True)
class SplitNode:
    id: str
    label: str
    config: SplitConfig

    @property
    def test(self) -> ABTestConfig:
        return test_of(self.config)


@dataclass(frozen=True)
class SplitResult:
    node: SplitNode
    verdict: SplitVerdict
    started_at: datetime | None  # when the first contact was assigned
    winner: DeclaredWinner | None


async def _campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    campaign = await repository.get_campaign(session, campaign_id)
    if campaign is None:
        raise not_found("Campaign")
    return campaign


async def _split_nodes(session: AsyncSession, campaign: Campaign) -> list[SplitNode]:
    if campaign.version is None:
        return []
    graph = await versions.graph_of(session, campaign.id, campaign.version)
    return [
        SplitNode(node.id, node.label, node.config)
        for node in graph.nodes.values()
        if isinstance(node.config, SplitConfig)
    ]


async def _results(
    session: AsyncSession, campaign: Campaign, nodes: list[SplitNode]
) -> list[SplitResult]:
    found = await repository.outcomes(session, campaign.id, [node.id for node in nodes])
    winners = await repository.declared_winners(session, campaign.id)
    return [
        SplitResult(
            node,
            judge(node.config, found[node.id].by_variant),
            found[node.id].started_at,
            winners.get(node.id),
        )
        for node in nodes
    ]


def _out(result: SplitResult) -> SplitTestOut:
    node, verdict, winner = result.node, result.verdict, result.winner
    shares = {variant.id: variant for variant in node.config.variants}
    return SplitTestOut(
        node_id=node.id,
        label=node.label,
        winner_metric=node.test.winner_metric,
        minimum_sample_size=node.test.minimum_sample_size,
        confidence_threshold=node.test.confidence_threshold,
        auto_select_winner=node.test.auto_select_winner,
        test_started_at=result.started_at,
        winner=winner.variant_id if winner else None,
        winner_declared_at=winner.declared_at if winner else None,
        recommended_winner=verdict.winner,
        reason=verdict.reason,
        variants=[
            VariantResultOut(
                variant_id=v.figures.variant_id,
                name=shares[v.figures.variant_id].name,
                percentage=shares[v.figures.variant_id].percentage,
                total_sent=v.figures.total_sent,
                total_delivered=v.figures.total_delivered,
                total_opened=v.figures.total_opened,
                total_clicked=v.figures.total_clicked,
                total_replied=v.figures.total_replied,
                total_converted=v.figures.total_converted,
                total_unsubscribed=v.figures.total_unsubscribed,
                total_bounced=v.figures.total_bounced,
                delivery_rate=v.figures.delivery_rate,
                open_rate=v.figures.open_rate,
                click_rate=v.figures.click_rate,
                reply_rate=v.figures.reply_rate,
                conversion_rate=v.figures.conversion_rate,
                engagement_score=v.figures.engagement_score,
                p_value=float(v.rounded_p_value),
                confidence_level=v.confidence_level,
                is_statistically_significant=v.is_statistically_significant,
                is_winner=winner is not None and winner.variant_id == v.figures.variant_id,
            )
            for v in verdict.variants
        ],
    )


async def list_ab_tests(session: AsyncSession, campaign_id: uuid.UUID) -> AbTestsOut:
    """Every split node of the campaign's published version, with its figures as of now."""
    campaign = await _campaign(session, campaign_id)
    nodes = await _split_nodes(session, campaign)
    results = await _results(session, campaign, nodes)
    return AbTestsOut(
        campaign_id=campaign.id, version=campaign.version, splits=[_out(r) for r in results]
    )


async def declare_winner(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    node_id: str,
    variant_id: str,
) -> SplitTestOut:
    """Declare a split's winner by hand (the campaign's owner, an admin or a TA manager): from
    now on every contact reaching the split without a variant there takes it."""
    campaign = await _campaign(session, campaign_id)
    require_owner_or_manager(principal, campaign.owner_id)
    node = next((n for n in await _split_nodes(session, campaign) if n.id == node_id), None)
    if node is None:
        raise NotFound(
            "SPLIT_NOT_FOUND",
            "Split not found",
            f"The campaign's published version has no split node {node_id!r}.",
        )
    if all(variant.id != variant_id for variant in node.config.variants):
        raise NotFound(
            "VARIANT_NOT_FOUND",
            "Variant not found",
            f"Split {node_id!r} has no variant {variant_id!r}.",
        )
    (result,) = await _results(session, campaign, [node])
    if result.winner is not None or not await _declare(
        session, campaign, result, variant_id, principal.user_id, "declared by hand"
    ):
        raise Conflict(
            "WINNER_ALREADY_DECLARED",
            "This split has a winner already",
            f"Split {node_id!r} has a declared winner; a winner is final.",
        )
    (declared,) = await _results(session, campaign, [node])
    return _out(declared)


async def _declare(
    session: AsyncSession,
    campaign: Campaign,
    result: SplitResult,
    variant_id: str,
    user_id: uuid.UUID | None,
    how: str,
) -> bool:
    """Store the node's figures, mark the winner and record the version snapshot; False when
    the node got a winner meanwhile (nothing is recorded then)."""
    node = result.node
    await _store(session, campaign, result)
    if await repository.declare_winner(session, campaign.id, node.id, variant_id, user_id) is None:
        return False
    await versions.snapshot_version(
        session,
        campaign.id,
        change_type=AB_TEST_COMPLETED,
        description=f"Split {node.label or node.id}: variant {variant_id} won ({how}).",
        user_id=user_id,
    )
    return True


async def _store(session: AsyncSession, campaign: Campaign, result: SplitResult) -> None:
    await repository.store_results(
        session, campaign, result.node.id, result.verdict.variants, result.started_at
    )


async def refresh_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> list[str]:
    """Store the figures of each split of the campaign, and declare the winner of each whose
    test selects one automatically and whose winner rule holds now; answers those nodes."""
    campaign = await _campaign(session, campaign_id)
    declared = []
    for result in await _results(session, campaign, await _split_nodes(session, campaign)):
        test, winner = result.node.test, result.verdict.winner
        if result.winner is None and test.enabled and test.auto_select_winner and winner:
            how = f"selected automatically: {result.verdict.reason}"
            if await _declare(session, campaign, result, winner, None, how):
                declared.append(result.node.id)
        else:
            await _store(session, campaign, result)
    return declared


async def winner_for(session: AsyncSession, campaign_id: uuid.UUID, node_id: str) -> str | None:
    """The declared winner of a split node (the engine sends new arrivals there), or None."""
    return await repository.winner_for(session, campaign_id, node_id)


async def winners(session: AsyncSession, campaign_id: uuid.UUID) -> dict[str, str]:
    """The declared winner of each split node of the campaign that has one, by node id (for
    a batch of contacts at once)."""
    found = await repository.declared_winners(session, campaign_id)
    return {node_id: winner.variant_id for node_id, winner in found.items()}
