"""GET /metrics: the Prometheus text format, open like /healthz unless OUTREACH_METRICS_TOKEN
asks for a bearer token (the figures name no tenant, but say how busy the service is)."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST

from outreach.dependencies import SettingsDep
from outreach.errors import Unauthorized
from outreach.kit.problems import problem_responses
from outreach.observability.metrics import exposition
from outreach.observability.service import DatabaseFacts

router = APIRouter(tags=["health"])
_bearer = HTTPBearer(auto_error=False, description="OUTREACH_METRICS_TOKEN, when it is set")


async def require_metrics_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if settings.metrics_token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
        raise Unauthorized(detail="Send 'Authorization: Bearer <OUTREACH_METRICS_TOKEN>'.")


@router.get(
    "/metrics",
    summary="Metrics in the Prometheus text format (every worker's, and database facts)",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **problem_responses(401),
    },
    dependencies=[Depends(require_metrics_token)],
)
async def get_metrics(request: Request) -> Response:
    """Request counts and latencies by route template, tracking hits, events written, sends,
    breaker trips, jobs and webhook deliveries, summed over the API's workers; outbox depth and
    the engine's due states and lag read from the database (at most every
    OUTREACH_METRICS_DB_SECONDS). Open unless OUTREACH_METRICS_TOKEN is set."""
    facts: DatabaseFacts = request.app.state.database_facts
    await facts.refresh()
    return Response(exposition([facts]), media_type=CONTENT_TYPE_LATEST)
