"""Bearer tokens over HTTP: every bad token is a 401 problem, and a good one creates its org.

The routes under test are a test-only `/api/v1` route that needs the caller and a tenant
session, the same dependencies every domain route uses, so these tests do not depend on any
one domain's routes.
"""

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from jose import jwt
from sqlalchemy import text

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.auth.tokens import Role, mint_token, verify_token
from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.errors import Unauthorized
from outreach.main import API_PREFIX, create_app

WHOAMI = f"{API_PREFIX}/_test/whoami"
ISSUER = "https://id.example.com/"
AUDIENCE = "outreach-api"


def _app_with_whoami(settings: Settings, urls: DatabaseUrls) -> FastAPI:
    app = create_app(settings, urls)

    @app.get(WHOAMI)
    async def whoami(principal: CurrentPrincipal, session: TenantSession) -> dict[str, str]:
        org = await session.scalar(text("SELECT current_setting('app.org_id', true)"))
        return {"user_id": str(principal.user_id), "org_id": str(org), "role": principal.role}

    return app


@pytest.fixture(scope="module")
def api(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    with TestClient(
        _app_with_whoami(settings, database_urls), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture(scope="module")
def strict_settings(database_urls: DatabaseUrls) -> Settings:
    return Settings(  # type: ignore[call-arg]
        env="test",
        database_url=database_urls.app,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        _env_file=None,
    )


@pytest.fixture(scope="module")
def strict_api(strict_settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    """An app configured with an issuer and an audience: both are then required."""
    with TestClient(
        _app_with_whoami(strict_settings, database_urls), raise_server_exceptions=False
    ) as client:
        yield client


def _claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for a fresh org and user; an override of None removes the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "org_id": str(uuid.uuid4()),
        "role": "admin",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _hs256(settings: Settings, **overrides: Any) -> str:
    return str(jwt.encode(_claims(**overrides), settings.jwt_secret, algorithm="HS256"))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_unauthorized(answer: Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "UNAUTHORIZED"
    assert problem["status"] == 401


def test_missing_authorization_header_is_401(api: TestClient) -> None:
    _assert_unauthorized(api.get(WHOAMI))


SIGNED_URLS = f"{API_PREFIX}/triggers/"


def test_every_api_route_refuses_a_request_without_a_token(client: TestClient) -> None:
    """Checked over the real application's published routes: a new route cannot forget auth."""
    paths = client.get("/openapi.json").json()["paths"]
    checked = []
    for template, operations in paths.items():
        # A signed trigger URL needs no user token (its token is the credential): see
        # tests/workflows/triggers/test_webhook_trigger.py.
        if not template.startswith(f"{API_PREFIX}/") or template.startswith(SIGNED_URLS):
            continue
        path = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), template)
        for method in operations:
            answer = client.request(method.upper(), path)
            assert answer.status_code == 401, f"{method} {template}: {answer.text}"
            assert answer.json()["code"] == "UNAUTHORIZED"
            checked.append(f"{method} {template}")
    assert checked


def test_non_bearer_scheme_is_401(api: TestClient) -> None:
    _assert_unauthorized(api.get(WHOAMI, headers={"Authorization": "Basic dXNlcjpwYXNz"}))


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "", "eyJhbGciOiJIUzI1NiJ9.e30"])
def test_malformed_token_is_401(api: TestClient, token: str) -> None:
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


def test_valid_token_is_accepted_and_scopes_the_session_to_its_org(
    api: TestClient, settings: Settings
) -> None:
    org_id, user_id = uuid.uuid4(), uuid.uuid4()
    token = mint_token(settings, org_id=org_id, user_id=user_id, role=Role.RECRUITER)
    answer = api.get(WHOAMI, headers=_bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"user_id": str(user_id), "org_id": str(org_id), "role": "recruiter"}


def test_expired_token_beyond_the_leeway_is_401(api: TestClient, settings: Settings) -> None:
    expired = int(time.time()) - settings.jwt_leeway_seconds - 60
    token = _hs256(settings, exp=expired, iat=expired - 3600)
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


def test_token_expired_within_the_leeway_is_accepted(api: TestClient, settings: Settings) -> None:
    assert settings.jwt_leeway_seconds >= 10
    token = _hs256(settings, exp=int(time.time()) - 5)
    assert api.get(WHOAMI, headers=_bearer(token)).status_code == 200


def test_token_without_exp_is_401(api: TestClient, settings: Settings) -> None:
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(_hs256(settings, exp=None))))


def test_token_without_sub_is_401(api: TestClient, settings: Settings) -> None:
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(_hs256(settings, sub=None))))


def test_alg_none_token_is_401(api: TestClient) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(_claims())}."
        _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


def test_token_signed_with_another_secret_is_401(api: TestClient) -> None:
    token = jwt.encode(_claims(), "another-secret", algorithm="HS256")
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


def test_token_with_a_tampered_payload_is_401(api: TestClient, settings: Settings) -> None:
    header, _, signature = _hs256(settings).split(".")
    forged = f"{header}.{_b64(_claims(role='admin'))}.{signature}"
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(forged)))


def test_rs256_token_is_401_when_only_hs256_is_allowed(api: TestClient, settings: Settings) -> None:
    assert settings.jwt_algorithms == ["HS256"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    token = jwt.encode(_claims(), pem, algorithm="RS256")
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


def test_hs512_token_with_the_right_secret_is_401(api: TestClient, settings: Settings) -> None:
    token = jwt.encode(_claims(), settings.jwt_secret, algorithm="HS512")
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


@pytest.mark.parametrize("role", ["owner", "ADMIN", "", 1, None, ["admin"], {"admin": True}])
def test_token_with_an_unknown_role_is_401(api: TestClient, settings: Settings, role: Any) -> None:
    token = _hs256(settings, role=role)
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


@pytest.mark.parametrize("claim", ["org_id", "sub"])
@pytest.mark.parametrize("value", ["acme", "", 42, None])
def test_token_whose_ids_are_not_uuids_is_401(
    api: TestClient, settings: Settings, claim: str, value: Any
) -> None:
    token = _hs256(settings, **{claim: value})
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))


def test_configured_issuer_and_audience_accept_the_right_token(
    strict_api: TestClient, strict_settings: Settings
) -> None:
    token = _hs256(strict_settings, iss=ISSUER, aud=AUDIENCE)
    assert strict_api.get(WHOAMI, headers=_bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example.com/", "aud": AUDIENCE},
        {"iss": None, "aud": AUDIENCE},
        {"iss": ISSUER, "aud": "another-api"},
        {"iss": ISSUER, "aud": None},
        {"iss": None, "aud": None},
    ],
    ids=["wrong-iss", "missing-iss", "wrong-aud", "missing-aud", "neither"],
)
def test_configured_issuer_and_audience_refuse_a_wrong_or_missing_one(
    strict_api: TestClient, strict_settings: Settings, claims: dict[str, Any]
) -> None:
    token = _hs256(strict_settings, **claims)
    _assert_unauthorized(strict_api.get(WHOAMI, headers=_bearer(token)))


def test_first_request_creates_the_org_and_the_user(
    api: TestClient, settings: Settings, as_owner: psycopg.Connection
) -> None:
    org_id, user_id = uuid.uuid4(), uuid.uuid4()
    token = mint_token(
        settings,
        org_id=org_id,
        user_id=user_id,
        role=Role.TA_MANAGER,
        org_name="Acme Talent",
        email="ada@acme.example",
        name="Ada",
    )
    assert api.get(WHOAMI, headers=_bearer(token)).status_code == 200

    org = as_owner.execute("SELECT name FROM organizations WHERE id = %s", [org_id]).fetchone()
    assert org == ("Acme Talent",)
    user = as_owner.execute(
        "SELECT org_id, role, email, name FROM user_profiles WHERE id = %s", [user_id]
    ).fetchone()
    assert user == (org_id, "ta_manager", "ada@acme.example", "Ada")


def test_a_later_token_updates_the_users_role(
    api: TestClient, settings: Settings, as_owner: psycopg.Connection
) -> None:
    org_id, user_id = uuid.uuid4(), uuid.uuid4()
    for role in (Role.ADMIN, Role.VIEWER):
        token = mint_token(settings, org_id=org_id, user_id=user_id, role=role)
        assert api.get(WHOAMI, headers=_bearer(token)).status_code == 200
    row = as_owner.execute("SELECT role FROM user_profiles WHERE id = %s", [user_id]).fetchone()
    assert row == ("viewer",)


def test_same_user_in_another_org_is_403_and_creates_nothing(
    api: TestClient, settings: Settings, as_owner: psycopg.Connection
) -> None:
    user_id, home_org, other_org = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    home = mint_token(settings, org_id=home_org, user_id=user_id, role=Role.ADMIN)
    assert api.get(WHOAMI, headers=_bearer(home)).status_code == 200

    elsewhere = mint_token(settings, org_id=other_org, user_id=user_id, role=Role.ADMIN)
    answer = api.get(WHOAMI, headers=_bearer(elsewhere))
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "FORBIDDEN"

    created = as_owner.execute(
        "SELECT count(*) FROM organizations WHERE id = %s", [other_org]
    ).fetchone()
    assert created == (0,)
    profile = as_owner.execute(
        "SELECT org_id FROM user_profiles WHERE id = %s", [user_id]
    ).fetchone()
    assert profile == (home_org,)


def _refusal(answer: Response) -> str:
    _assert_unauthorized(answer)
    return str(answer.json()["detail"])


def test_token_issued_in_the_future_beyond_the_leeway_is_401(
    api: TestClient, settings: Settings
) -> None:
    issued = int(time.time()) + settings.jwt_leeway_seconds + 60
    token = _hs256(settings, iat=issued, exp=issued + 3600)
    assert "issued in the future" in _refusal(api.get(WHOAMI, headers=_bearer(token)))


def test_token_issued_in_the_future_within_the_leeway_is_accepted(
    api: TestClient, settings: Settings
) -> None:
    issued = int(time.time()) + 5
    token = _hs256(settings, iat=issued, exp=issued + 3600)
    assert api.get(WHOAMI, headers=_bearer(token)).status_code == 200


@pytest.mark.parametrize("with_iat", [True, False], ids=["exp-iat", "exp-now"])
def test_token_living_longer_than_the_maximum_is_401(
    api: TestClient, settings: Settings, with_iat: bool
) -> None:
    now = int(time.time())
    lifetime = int(settings.jwt_max_lifetime_hours * 3600) + 3600
    token = _hs256(settings, iat=now if with_iat else None, exp=now + lifetime)
    detail = _refusal(api.get(WHOAMI, headers=_bearer(token)))
    assert f"at most {settings.jwt_max_lifetime_hours:g} h" in detail


def test_token_living_the_maximum_is_accepted(api: TestClient, settings: Settings) -> None:
    now = int(time.time())
    token = _hs256(settings, iat=now, exp=now + int(settings.jwt_max_lifetime_hours * 3600))
    assert api.get(WHOAMI, headers=_bearer(token)).status_code == 200


def test_the_maximum_lifetime_is_configurable(settings: Settings) -> None:
    hourly = settings.model_copy(update={"jwt_max_lifetime_hours": 1})
    now = int(time.time())
    verify_token(_hs256(hourly, iat=now, exp=now + 3600), hourly)
    with pytest.raises(Unauthorized) as refused:
        verify_token(_hs256(hourly, iat=now, exp=now + 3601), hourly)
    assert refused.value.detail is not None
    assert "at most 1 h" in refused.value.detail


def test_minting_beyond_the_maximum_lifetime_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError, match="OUTREACH_JWT_MAX_LIFETIME_HOURS"):
        mint_token(
            settings,
            org_id=uuid.uuid4(),
            user_id=uuid.uuid4(),
            role=Role.ADMIN,
            ttl=timedelta(hours=settings.jwt_max_lifetime_hours + 1),
        )


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["x-unknown"], [], "b64"])
def test_token_with_a_crit_header_is_401(api: TestClient, settings: Settings, crit: Any) -> None:
    token = jwt.encode(_claims(), settings.jwt_secret, algorithm="HS256", headers={"crit": crit})
    assert "'crit'" in _refusal(api.get(WHOAMI, headers=_bearer(token)))


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": [1]},
        {"iat": {"at": 1}},
        {"iat": "1700000000"},
        {"exp": float("inf")},
        {"exp": "4102444800"},
        {"iat": True},
    ],
    ids=["iat-list", "iat-object", "iat-string", "exp-infinite", "exp-string", "iat-bool"],
)
def test_time_claims_that_are_not_numbers_are_401_not_500(
    api: TestClient, settings: Settings, claims: dict[str, Any]
) -> None:
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(_hs256(settings, **claims))))


@pytest.mark.parametrize("claim", ["email", "name", "org_name"])
@pytest.mark.parametrize(
    "value",
    ["ada@acme.example\r\nBcc: x@evil.example", "Ada\nLovelace", "Acme\u2028Talent", "Ada\x00"],
)
def test_identity_claims_with_control_characters_are_401_and_store_nothing(
    api: TestClient, settings: Settings, as_owner: psycopg.Connection, claim: str, value: str
) -> None:
    user_id = uuid.uuid4()
    token = _hs256(settings, sub=str(user_id), **{claim: value})
    detail = _refusal(api.get(WHOAMI, headers=_bearer(token)))
    assert f"'{claim}' claim contains a line break or another control character" in detail
    profile = as_owner.execute("SELECT 1 FROM user_profiles WHERE id = %s", [user_id]).fetchone()
    assert profile is None


def test_a_token_signed_with_an_empty_secret_is_401(api: TestClient, settings: Settings) -> None:
    token = jwt.encode(_claims(), "", algorithm="HS256")
    _assert_unauthorized(api.get(WHOAMI, headers=_bearer(token)))
    # Settings refuse an empty secret; a copy made without checks still accepts no token.
    empty = settings.model_copy(update={"jwt_secret": ""})
    with pytest.raises(Unauthorized):
        verify_token(token, empty)
