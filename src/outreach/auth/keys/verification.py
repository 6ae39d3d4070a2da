"""Minting and checking API keys.

A key is `ok_live_<organization id, 32 hex>_<secret, 43 base62 characters>`. The prefix tells a
key from a JWT at a glance (and lets secret scanners find leaked ones); the organization lets
the request look its key up under row-level security, as that organization, before anything
else is known. Only the key's SHA-256 is stored. A slow password hash (argon2, bcrypt) guards
secrets a person chose, which an attacker with the hashes could guess; a 256-bit random secret
cannot be guessed, and a slow hash would cost every request tens of milliseconds for nothing.

Nothing about a key's validity is remembered in memory: each request reads it (with its rate
limit when a slice of it is due, in the same round trip), so a revoked or expired key is
refused at once by every replica.
"""

import hashlib
import re
import secrets
import string
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from outreach.auth.keys.repository import FIND_KEY, USABLE_KEY
from outreach.auth.tokens import Principal, Role
from outreach.errors import RateLimited, Unauthorized
from outreach.kit.ratelimit import Allowance, RequestBudget
from outreach.kit.tenancy import pipelined_in_org

PREFIX = "ok_live_"
_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 43  # 43 base62 characters: 256 bits
_KEY = re.compile(rf"{PREFIX}([0-9a-f]{{32}})_([0-9A-Za-z]{{{_SECRET_LENGTH}}})")


@dataclass(frozen=True)
class NewKey:
    key: str  # shown once, to its creator
    key_hash: bytes
    hint: str  # enough to tell keys apart in a list, far too little to guess one


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def mint(org_id: uuid.UUID) -> NewKey:
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    key = f"{PREFIX}{org_id.hex}_{secret}"
    return NewKey(key, key_hash(key), f"{PREFIX}...{secret[-4:]}")


def is_api_key(token: str) -> bool:
    return token.startswith(PREFIX)


async def authenticate(
    engine: AsyncEngine, key: str, budget: RequestBudget
) -> tuple[Principal, Allowance | None]:
    """The principal a key acts as, and what is left of its request budget; 401 for a key that
    is malformed, unknown, revoked or expired, 429 past the budget."""
    found = _KEY.fullmatch(key)
    if found is None:
        raise Unauthorized(detail=f"Not a valid API key: keys look like {PREFIX}<32 hex>_<43>.")
    org_id = uuid.UUID(found.group(1))
    hashed = key_hash(key)
    params = {"org_id": org_id, "key_hash": hashed}
    caller = f"key:{hashed.hex()}"
    # From this process's slice of the key's budget when it has one (the key is still looked
    # up, and a refused key is told so before its budget); else the database grants a slice,
    # to a usable key only.
    refused: RateLimited | None = None
    try:
        spent = budget.spend(caller) if budget.enabled else None
    except RateLimited as exc:
        spent, refused = None, exc
    counted = budget.enabled and spent is None and refused is None
    statements = [(FIND_KEY, params)]
    if counted:
        statements.append(budget.statement(USABLE_KEY, params))
    results = await pipelined_in_org(engine, org_id, statements, durable=False)
    if not results[0]:
        raise Unauthorized(detail="Unknown API key.")
    row = results[0][0]
    if row["revoked"]:
        raise Unauthorized(detail="This API key was revoked.")
    if row["expired"]:
        raise Unauthorized(detail="This API key has expired.")
    principal = Principal(
        user_id=row["id"], org_id=org_id, role=Role(row["role"]), name=row["name"], api_key=True
    )
    if refused is not None:
        raise refused
    if counted:
        return principal, budget.granted(caller, results[1][0])
    return principal, spent
