"""Analytics routes: a campaign's A/B test results."""

import uuid

from fastapi import APIRouter

from outreach.analytics import service
from outreach.analytics.schemas import AbTestOut
from outreach.auth.dependencies import TenantSession
from outreach.kit.problems import problem_responses

router = APIRouter(prefix="/campaigns", tags=["analytics"])


@router.get(
    "/{campaign_id}/ab-test",
    summary="An A/B test's figures per variant, p-values, and the winner or why none yet",
    response_model=AbTestOut,
    responses=problem_responses(401, 404, 409),
)
async def get_ab_test(campaign_id: uuid.UUID, session: TenantSession) -> AbTestOut:
    return await service.get_ab_test(session, campaign_id)
