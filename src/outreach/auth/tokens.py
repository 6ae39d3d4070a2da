"""JWT verification (python-jose with every check turned on) and minting for local use.

The key is chosen by the token's algorithm only after that algorithm is found in the
allowlist: HS256 verifies with the shared secret, RS256/ES256 with the public key, so a token
can never pick its own key type (the classic RS256-to-HS256 confusion).
"""

import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cachetools import LRUCache
from jose import JWTError, jwt

from outreach.config import Settings
from outreach.errors import Unauthorized
from outreach.kit.text import control_character


class Role(StrEnum):
    ADMIN = "admin"
    TA_MANAGER = "ta_manager"
    RECRUITER = "recruiter"
    VIEWER = "viewer"


@dataclass(frozen=True)
class Principal:
    """Who is calling: taken from a verified token, never from the request body."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    email: str | None = None
    name: str | None = None
    org_name: str | None = None
    api_key: bool = False  # an API key's own profile (user_id is the key's id), not a person

    @property
    def manages_org(self) -> bool:
        return self.role in (Role.ADMIN, Role.TA_MANAGER)

    @property
    def can_write(self) -> bool:
        return self.role is not Role.VIEWER


def _key_for(algorithm: str, settings: Settings) -> str:
    if algorithm == "HS256":
        if not settings.jwt_secret.strip():  # Settings refuse it; a copy made without checks not
            raise Unauthorized(detail="HS256 tokens cannot be checked: no secret is configured.")
        return settings.jwt_secret
    assert settings.jwt_public_key is not None  # Settings refuses asymmetric without a key
    return settings.jwt_public_key


def _uuid_claim(claims: dict[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(claims[name]))
    except (KeyError, ValueError) as exc:
        raise Unauthorized(detail=f"The token's '{name}' claim must be a UUID.") from exc


def _optional_str(claims: dict[str, Any], name: str) -> str | None:
    """An identity claim: it goes into the user's profile, and from there into mail headers."""
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        return None
    character = control_character(value)
    if character is not None:
        raise Unauthorized(
            detail=f"The token's '{name}' claim contains a line break or another control "
            f"character ({character}); the identity provider must send it on one line."
        )
    return value[:320]


def _check_header(header: dict[str, Any], settings: Settings) -> str:
    """The token's algorithm, once the header asks for nothing this service does not do."""
    algorithm = header.get("alg")
    if algorithm not in settings.jwt_algorithms:
        raise Unauthorized(detail=f"Tokens signed with {algorithm!r} are not accepted.")
    if "crit" in header:
        # RFC 7515 4.1.11: a token whose critical extensions are not understood is refused;
        # this service understands none (and python-jose does not check the header itself).
        raise Unauthorized(
            detail="The token's 'crit' header names extensions this service does not support."
        )
    return str(algorithm)


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # python-jose takes anything int() takes, "1700000000" and true included
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Unauthorized(detail=f"The token's '{name}' claim must be a number of seconds.")
    return value


def _check_times(claims: dict[str, Any], settings: Settings) -> int:
    """When the token expires, once `iat` is not in the future and the token does not live
    longer than the configured maximum."""
    now = time.time()
    leeway = settings.jwt_leeway_seconds
    maximum = settings.jwt_max_lifetime_hours * 3600
    expires_at = _numeric_date(claims, "exp")
    assert expires_at is not None  # require_exp
    issued_at = _numeric_date(claims, "iat")
    if issued_at is not None and issued_at > now + leeway:
        raise Unauthorized(
            detail=f"The token was issued in the future ('iat' is {issued_at - now:.0f} s "
            "ahead of this server's clock)."
        )
    # Without iat a token's age is unknown: what it has left must fit in the maximum.
    lifetime = expires_at - (issued_at if issued_at is not None else now + leeway)
    if lifetime > maximum:
        raise Unauthorized(
            detail=f"The token lives {lifetime / 3600:.1f} h; tokens may live at most "
            f"{settings.jwt_max_lifetime_hours:g} h (exp - iat)."
        )
    return int(expires_at)


def verify_token(token: str, settings: Settings) -> tuple[Principal, int]:
    """The caller a token names, and when the token expires (epoch seconds)."""
    try:
        header = jwt.get_unverified_header(token)
    except JWTError as exc:
        raise Unauthorized(detail="The bearer token is not a JWT.") from exc
    algorithm = _check_header(header, settings)
    options = {
        "require_exp": True,
        "require_sub": True,
        "verify_aud": settings.jwt_audience is not None,
        "require_aud": settings.jwt_audience is not None,
        "verify_iss": settings.jwt_issuer is not None,
        "require_iss": settings.jwt_issuer is not None,
        "leeway": settings.jwt_leeway_seconds,
    }
    try:
        claims = jwt.decode(
            token,
            _key_for(algorithm, settings),
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options=options,
        )
    except JWTError as exc:
        raise Unauthorized(detail=f"The bearer token was refused: {exc}.") from exc
    except (TypeError, OverflowError) as exc:  # python-jose's int() of a list, an object, 1e999
        raise Unauthorized(detail="The token's exp, iat and nbf must be numbers.") from exc
    expires_at = _check_times(claims, settings)
    try:
        role_claim = claims.get("role")
        role = Role(role_claim if isinstance(role_claim, str) else "")
    except ValueError as exc:
        raise Unauthorized(
            detail="The token's 'role' claim must be admin, ta_manager, recruiter or viewer."
        ) from exc
    principal = Principal(
        user_id=_uuid_claim(claims, "sub"),
        org_id=_uuid_claim(claims, "org_id"),
        role=role,
        email=_optional_str(claims, "email"),
        name=_optional_str(claims, "name"),
        org_name=_optional_str(claims, "org_name"),
    )
    return principal, expires_at


class TokenVerifier:
    """Verifies bearer tokens and remembers the verified ones until they expire: checking a
    signature costs more than the rest of a small read. The whole token is the key, so only
    the very same bytes that passed verification are answered from memory."""

    def __init__(self, settings: Settings, size: int = 10_000) -> None:
        self._settings = settings
        self._verified: LRUCache[str, tuple[Principal, float]] = LRUCache(maxsize=size)

    def verify(self, token: str) -> Principal:
        remembered = self._verified.get(token)
        if remembered is not None and time.time() <= remembered[1]:
            return remembered[0]
        principal, expires_at = verify_token(token, self._settings)
        self._verified[token] = (principal, expires_at + self._settings.jwt_leeway_seconds)
        return principal


def mint_token(
    settings: Settings,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    role: Role,
    ttl: timedelta = timedelta(hours=12),
    **extra_claims: Any,
) -> str:
    """An HS256 token signed with the configured secret, for local use and tests."""
    if ttl > timedelta(hours=settings.jwt_max_lifetime_hours):
        raise ValueError(
            f"a token may live at most {settings.jwt_max_lifetime_hours:g} hours "
            "(OUTREACH_JWT_MAX_LIFETIME_HOURS)"
        )
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "org_id": str(org_id),
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        **extra_claims,
    }
    if settings.jwt_issuer:
        claims.setdefault("iss", settings.jwt_issuer)
    if settings.jwt_audience:
        claims.setdefault("aud", settings.jwt_audience)
    return str(jwt.encode(claims, settings.jwt_secret, algorithm="HS256"))
