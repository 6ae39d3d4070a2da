"""API keys: admins mint, list and revoke them. A key is minted for the caller's organization
and acts as a profile of its own, with the role it was given."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.keys import repository
from outreach.auth.keys.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut
from outreach.auth.keys.verification import mint
from outreach.auth.tokens import Principal, Role
from outreach.errors import Conflict, Forbidden, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page

MAX_LIVE_KEYS = 100  # per organization: usable keys (neither revoked nor expired)


def _require_admin_person(principal: Principal) -> None:
    if principal.api_key:
        # A leaked key must not be able to mint itself successors that outlive its revocation.
        raise Forbidden(detail="API keys are managed with a person's token, not with a key.")
    if principal.role is not Role.ADMIN:
        raise Forbidden(detail="Only admins may manage API keys.")


async def create_key(session: AsyncSession, principal: Principal, body: ApiKeyIn) -> ApiKeyCreated:
    _require_admin_person(principal)
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise ValidationFailed.field(
            "expires_at", "API_KEY_EXPIRY_IN_PAST", "The expiry must be in the future"
        )
    if await repository.live_keys(session) >= MAX_LIVE_KEYS:
        raise Conflict(
            "API_KEY_LIMIT_REACHED",
            "Too many API keys",
            f"An organization may hold {MAX_LIVE_KEYS} usable keys; revoke one first.",
        )
    new = mint(principal.org_id)
    row = await repository.add_key(
        session,
        org_id=principal.org_id,
        key_id=uuid.uuid4(),
        name=body.name,
        role=body.role.value,
        key_hash=new.key_hash,
        key_hint=new.hint,
        created_by=principal.user_id,
        expires_at=body.expires_at,
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=new.key)


async def list_keys(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> Page[ApiKeyOut]:
    _require_admin_person(principal)
    rows = await repository.list_keys(session, after=position_after(cursor), limit=limit)
    return page_of(rows, limit, ApiKeyOut.model_validate)


async def get_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> ApiKeyOut:
    _require_admin_person(principal)
    row = await repository.get_key(session, key_id)
    if row is None:
        raise not_found("API key")
    return ApiKeyOut.model_validate(row)


async def revoke_key(session: AsyncSession, principal: Principal, key_id: uuid.UUID) -> None:
    _require_admin_person(principal)
    if not await repository.revoke_key(session, key_id):
        raise not_found("API key")
