"""Request dependencies: the verified caller (a JWT or an API key, within its request budget),
and a database session scoped to its organization.

One transaction per request: `get_tenant_session` begins it with the caller's org set, makes
sure the org and the user exist (just-in-time, from the token's claims), and commits when the
route returns (FastAPI's function scope, so a failing commit is an error response, not a
success already sent).
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Annotated

from cachetools import LRUCache
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from outreach.auth.keys.verification import authenticate, is_api_key
from outreach.auth.tokens import Principal, TokenVerifier
from outreach.errors import Forbidden, Unauthorized
from outreach.kit.ratelimit import REQUEST_ALLOWANCE, Allowance, RequestBudget
from outreach.kit.tenancy import org_session, pipelined_in_org

_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="A JWT from your identity provider, or an API key (`ok_live_...`, see "
    "`POST /api-keys`)",
)

# A user's requests are counted once the organization exists (its first request creates it).
_USER = "SELECT 'requests:' || %(user_id)s::text AS key WHERE EXISTS (SELECT FROM organizations)"


async def _user_allowance(state: State, principal: Principal) -> Allowance | None:
    budget: RequestBudget = state.request_budget
    if not budget.enabled:
        return None
    caller = f"user:{principal.org_id}:{principal.user_id}"
    spent = budget.spend(caller)
    if spent is not None:
        return spent
    params = {"org_id": principal.org_id, "user_id": principal.user_id}
    [rows] = await pipelined_in_org(
        state.engine, principal.org_id, [budget.statement(_USER, params)], durable=False
    )
    return budget.granted(caller, rows[0])


# Async on purpose: a sync dependency would cost every request a hop to the thread pool.
async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, once its request is counted (429 past its budget: the RateLimit headers of
    what is left go on the response, outreach.kit.ratelimit.RateLimitHeaders)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized(detail="Send 'Authorization: Bearer <token>'.")
    state = request.app.state
    allowance: Allowance | None
    if is_api_key(credentials.credentials):
        principal, allowance = await authenticate(
            state.engine, credentials.credentials, state.request_budget
        )
    else:
        verifier: TokenVerifier = state.token_verifier
        principal = verifier.verify(credentials.credentials)
        allowance = await _user_allowance(state, principal)
    request.state.org_id = principal.org_id  # the request's log lines name it
    if allowance is not None:
        request.scope.setdefault("state", {})[REQUEST_ALLOWANCE] = allowance
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def known_principals(size: int = 10_000) -> LRUCache[Principal, bool]:
    """The (org, user, claims) seen recently by this process, to skip the just-in-time upsert."""
    return LRUCache(maxsize=size)


async def ensure_org_and_user(session: AsyncSession, principal: Principal) -> None:
    await session.execute(
        text(
            "WITH listed AS (INSERT INTO tenant_directory (id) VALUES (:org_id) "
            "ON CONFLICT (id) DO NOTHING) "
            "INSERT INTO organizations (id, name) VALUES (:org_id, :name) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {
            "org_id": principal.org_id,
            "name": principal.org_name or f"Organization {principal.org_id}",
        },
    )
    await session.execute(
        text(
            "INSERT INTO user_profiles (id, org_id, email, name, role) "
            "VALUES (:user_id, :org_id, :email, :name, :role) ON CONFLICT (id) DO NOTHING"
        ),
        _profile_params(principal),
    )
    found = await session.execute(
        text(
            "UPDATE user_profiles SET role = :role, email = coalesce(:email, email), "
            "name = coalesce(:name, name) WHERE id = :user_id AND kind = 'user' RETURNING id"
        ),
        _profile_params(principal),
    )
    if found.first() is None:  # a token naming an API key's profile is refused too
        raise Forbidden(detail="This user belongs to another organization.")


def _profile_params(principal: Principal) -> dict[str, object]:
    return {
        "user_id": principal.user_id,
        "org_id": principal.org_id,
        "email": principal.email,
        "name": principal.name,
        "role": principal.role.value,
    }


@asynccontextmanager
async def tenant_transaction(state: State, principal: Principal) -> AsyncIterator[AsyncSession]:
    """A session in one transaction with the caller's org set, committed at the end."""
    async with org_session(state.sessionmaker, principal.org_id) as session:
        session.info["user_id"] = principal.user_id  # scopes Idempotency-Key replays
        # an API key's profile was made with the key
        first_seen = not principal.api_key and state.known_principals.get(principal) is None
        async with session.begin():
            if first_seen:
                await ensure_org_and_user(session, principal)
            yield session
        if first_seen:  # only once committed: a rolled-back request created nothing
            state.known_principals[principal] = True


async def get_tenant_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[AsyncSession]:
    async with tenant_transaction(request.app.state, principal) as session:
        yield session


TenantSession = Annotated[AsyncSession, Depends(get_tenant_session, scope="function")]

Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


async def get_tenant_transactions(request: Request, principal: CurrentPrincipal) -> Transactions:
    """For a route that waits on the network: short transactions opened when it needs them,
    so no pooled connection is held while it waits (TenantSession holds one per request)."""
    return partial(tenant_transaction, request.app.state, principal)


TenantTransactions = Annotated[Transactions, Depends(get_tenant_transactions)]


def require_writer(principal: Principal) -> None:
    if not principal.can_write:
        raise Forbidden(detail="Viewers have read-only access.")


def require_manager(principal: Principal) -> None:
    if not principal.manages_org:
        raise Forbidden(detail="Only admins and TA managers may do this.")


def require_owner_or_manager(
    principal: Principal, owner_id: uuid.UUID | None, resource: str = "campaigns"
) -> None:
    require_writer(principal)
    if not principal.manages_org and owner_id != principal.user_id:
        raise Forbidden(detail=f"Recruiters may change only the {resource} they own.")
