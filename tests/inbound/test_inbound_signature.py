"""Inbound requests are authenticated by the org's inbound secrets, old ones during rotation."""

import hashlib
import hmac
import uuid

import pytest

from outreach.inbound.signature import sign, url_token, verify, verify_url_token

BODY = b'{"events": []}'
ORG = uuid.UUID("0b5e8f3c-1d2a-4b6c-8e9f-a0b1c2d3e4f5")


def test_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()

    assert sign("s3cret", BODY) == f"sha256={expected}"


def test_a_valid_signature_verifies() -> None:
    assert verify(["s3cret"], BODY, sign("s3cret", BODY))


def test_a_signature_of_another_body_does_not_verify() -> None:
    assert not verify(["s3cret"], BODY + b" ", sign("s3cret", BODY))


def test_a_signature_with_another_secret_does_not_verify() -> None:
    assert not verify(["s3cret"], BODY, sign("other", BODY))


def test_during_rotation_old_and_new_secrets_both_verify() -> None:
    secrets = ["new-secret", "old-secret"]

    assert verify(secrets, BODY, sign("new-secret", BODY))
    assert verify(secrets, BODY, sign("old-secret", BODY))
    assert not verify(["new-secret"], BODY, sign("old-secret", BODY))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest(),
        "sha1=" + hmac.new(b"s3cret", BODY, hashlib.sha1).hexdigest(),
        sign("s3cret", BODY)[:-2],
        sign("s3cret", BODY).upper(),
    ],
)
def test_missing_or_malformed_signatures_do_not_verify(header: str | None) -> None:
    assert not verify(["s3cret"], BODY, header)


def test_without_secrets_nothing_verifies() -> None:
    assert not verify([], BODY, sign("", BODY))
    assert not verify([""], BODY, sign("", BODY))


def test_url_token_is_32_hex_characters_for_the_org_and_provider() -> None:
    token = url_token("s3cret", ORG, "ses")
    message = f"inbound:{ORG}:ses".encode()

    assert token == hmac.new(b"s3cret", message, hashlib.sha256).hexdigest()[:32]
    assert verify_url_token(["s3cret"], ORG, "ses", token)


def test_a_url_token_is_good_for_its_own_org_and_provider_only() -> None:
    token = url_token("s3cret", ORG, "ses")

    assert not verify_url_token(["s3cret"], uuid.uuid4(), "ses", token)
    assert not verify_url_token(["s3cret"], ORG, "postmark", token)
    assert not verify_url_token(["other"], ORG, "ses", token)


def test_url_tokens_of_old_and_new_secrets_verify_during_rotation() -> None:
    secrets = ["new-secret", "old-secret"]

    assert verify_url_token(secrets, ORG, "postmark", url_token("old-secret", ORG, "postmark"))
    assert verify_url_token(secrets, ORG, "postmark", url_token("new-secret", ORG, "postmark"))


@pytest.mark.parametrize("token", [None, "", "0" * 32, url_token("s3cret", ORG, "ses")[:-1]])
def test_missing_or_wrong_url_tokens_do_not_verify(token: str | None) -> None:
    assert not verify_url_token(["s3cret"], ORG, "ses", token)
