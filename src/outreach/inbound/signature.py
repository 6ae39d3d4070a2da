"""Authenticates inbound provider requests with the org's inbound secrets (any current one
verifies, so secrets can be rotated).

Which provider uses which check:

- generic: `X-Outreach-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (`sign`/`verify`).
  We control the sender, so the whole body is covered.
- ses (via SNS): a URL token (`url_token`). SNS posts a fixed envelope and cannot add headers or
  compute an HMAC; its own RSA signature is not checked here (see `ses.py`).
- postmark: a URL token too. Postmark does not sign webhook bodies: there is no HMAC or
  signature header (Postmark's own webhook security guide, ActiveCampaign/postmark-skills
  `postmark-webhooks/references/security.md`). A webhook can carry Basic-auth credentials
  (`HttpAuth`) or fixed custom headers (`HttpHeaders`), but both are static values, no better
  than the URL token; the caller may accept the token in one of those places instead.

A URL token proves the sender knows the org's secret, not that the body is unchanged: it rests
on TLS. It names the org and the provider, so a leaked token is good for that pair only, and a
replayed body records nothing twice because events are idempotent by provider event id.
"""

import hashlib
import hmac
import uuid
from collections.abc import Sequence

SIGNATURE_HEADER = "X-Outreach-Signature"
_PREFIX = "sha256="
_TOKEN_CHARS = 32


def sign(secret: str, body: bytes) -> str:
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secrets: Sequence[str], body: bytes, header: str | None) -> bool:
    if header is None or not header.startswith(_PREFIX):
        return False
    given = header.strip().encode()
    # An empty secret is a missing one, never a key anybody could sign with.
    return _matches_any(given, [sign(secret, body).encode() for secret in secrets if secret])


def url_token(secret: str, org_id: uuid.UUID, provider: str) -> str:
    message = f"inbound:{org_id}:{provider}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:_TOKEN_CHARS]


def verify_url_token(
    secrets: Sequence[str], org_id: uuid.UUID, provider: str, token: str | None
) -> bool:
    if not token:
        return False
    expected = [url_token(secret, org_id, provider).encode() for secret in secrets if secret]
    return _matches_any(token.strip().encode(), expected)


def _matches_any(given: bytes, expected: Sequence[bytes]) -> bool:
    # Compare against every secret, so the time taken does not tell which one matched.
    matched = False
    for candidate in expected:
        matched |= hmac.compare_digest(given, candidate)
    return matched
