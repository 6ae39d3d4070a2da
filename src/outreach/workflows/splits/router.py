"""Split routes: each split's results per variant, and a winner declared by hand."""

import uuid

from fastapi import APIRouter

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.problems import problem_responses
from outreach.workflows.graph.schemas import NodeId
from outreach.workflows.splits import service
from outreach.workflows.splits.schemas import AbTestsOut, SplitTestOut, WinnerIn

router = APIRouter(tags=["sequences"])


@router.get(
    "/campaigns/{campaign_id}/ab-tests",
    summary="Each split of the published sequence: per variant figures, significance, winner",
    description="Figures count the contacts each variant reached (a touch recorded after "
    "their assignment) and their human engagement since. The leader on the split's "
    "`winner_metric` is tested against every other variant (chi-square for a rate, Welch's "
    "t-test for the engagement score).",
    response_model=AbTestsOut,
    responses=problem_responses(401, 404),
)
async def list_ab_tests(campaign_id: uuid.UUID, session: TenantSession) -> AbTestsOut:
    return await service.list_ab_tests(session, campaign_id)


@router.post(
    "/campaigns/{campaign_id}/ab-tests/{node_id}/winner",
    summary="Declare a split's winner by hand",
    description="By the campaign's owner, an admin or a TA manager (else `403 FORBIDDEN`). "
    "From then on, every contact reaching the split without a variant there takes the "
    "winner; the declaration is recorded as an `ab_test_completed` version. "
    "`404 SPLIT_NOT_FOUND` / `404 VARIANT_NOT_FOUND` for a node or variant the published "
    "version does not have; `409 WINNER_ALREADY_DECLARED` when the split has a winner.",
    response_model=SplitTestOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={404: ["SPLIT_NOT_FOUND", "VARIANT_NOT_FOUND"], 409: ["WINNER_ALREADY_DECLARED"]},
    ),
)
async def declare_winner(
    campaign_id: uuid.UUID,
    node_id: NodeId,
    body: WinnerIn,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> SplitTestOut:
    return await service.declare_winner(session, principal, campaign_id, node_id, body.variant_id)
