"""API key routes (admins, with a person's token): mint, list, read, revoke."""

import uuid

from fastapi import APIRouter, Response

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.auth.keys import service
from outreach.auth.keys.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.post(
    "",
    summary="Create an API key (admins): the key is in this answer only",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=problem_responses(
        401,
        403,
        409,
        422,
        codes={409: ["API_KEY_LIMIT_REACHED"], 422: ["API_KEY_EXPIRY_IN_PAST"]},
    ),
)
async def create_api_key(
    body: ApiKeyIn, session: TenantSession, principal: CurrentPrincipal
) -> ApiKeyCreated:
    """Send the key as `Authorization: Bearer <key>`: it acts as a user of its own (its `id`)
    with its `role`, in this organization, until `expires_at` or its revocation. Only its hash
    is kept. Keys cannot manage keys (403). At most 100 usable keys per organization
    (`409 API_KEY_LIMIT_REACHED`); `expires_at` must be in the future (`422
    API_KEY_EXPIRY_IN_PAST`). `Idempotency-Key` is not honoured here: a replay would have to
    store the key itself."""
    return await service.create_key(session, principal, body)


@router.get(
    "",
    summary="List the organization's API keys (admins), newest first, revoked ones included",
    response_model=Page[ApiKeyOut],
    responses=problem_responses(401, 403, 422),
)
async def list_api_keys(
    session: TenantSession, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[ApiKeyOut]:
    """Each key with its `key_hint` (never the key), role, expiry, last use (to the minute) and
    revocation."""
    return await service.list_keys(session, principal, limit=limit, cursor=cursor)


@router.get(
    "/{key_id}",
    summary="Get an API key (admins)",
    response_model=ApiKeyOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_api_key(
    key_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> ApiKeyOut:
    """One key, without the key itself."""
    return await service.get_key(session, principal, key_id)


@router.delete(
    "/{key_id}",
    summary="Revoke an API key (admins): refused at once by every replica",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
async def revoke_api_key(
    key_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    """The key is refused (401) from the next request on, by every replica. It stays listed
    with its `revoked_at`; revoking it again changes nothing."""
    await service.revoke_key(session, principal, key_id)
    return Response(status_code=204)
