"""Verified tokens are remembered only while they are valid."""

import time
import uuid
from datetime import timedelta

import pytest
from jose import jwt

from outreach.auth.tokens import Role, TokenVerifier, mint_token
from outreach.config import Settings
from outreach.errors import Unauthorized


def settings() -> Settings:
    return Settings(env="test", jwt_leeway_seconds=0, _env_file=None)  # type: ignore[call-arg]


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    verifier = TokenVerifier(settings())
    org, user = uuid.uuid4(), uuid.uuid4()
    token = mint_token(
        settings(), org_id=org, user_id=user, role=Role.ADMIN, ttl=timedelta(seconds=1)
    )
    assert verifier.verify(token).user_id == user
    assert verifier.verify(token).user_id == user  # from memory
    time.sleep(2.1)  # exp has whole-second resolution
    with pytest.raises(Unauthorized):
        verifier.verify(token)


def test_only_the_exact_token_is_remembered() -> None:
    verifier = TokenVerifier(settings())
    token = mint_token(settings(), org_id=uuid.uuid4(), user_id=uuid.uuid4(), role=Role.VIEWER)
    verifier.verify(token)
    claims = jwt.get_unverified_claims(token) | {"role": "admin"}
    forged = jwt.encode(claims, "another secret", algorithm="HS256")
    with pytest.raises(Unauthorized):
        verifier.verify(forged)
