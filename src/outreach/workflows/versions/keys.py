"""A campaign workflow's webhook-trigger key (`/triggers/{campaign_id}/{token}`) and the tokens
minted from it (the signing secret of its webhook actions comes from `kit.webhooks`).

The token carries the organization's id (the route has no user token to name it, and row-level
security needs it before anything can be read) followed by an HMAC-SHA256 of the organization
and the campaign under the campaign's `trigger_key`. Only the key's holder, the service, can
mint one; a token names one campaign of one organization.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid

_ORG_BYTES = 16
_MAC_BYTES = hashlib.sha256().digest_size


def new_trigger_key() -> str:
    return secrets.token_urlsafe(32)


def _mac(trigger_key: str, org_id: uuid.UUID, campaign_id: uuid.UUID) -> bytes:
    message = f"workflow-trigger:{org_id}:{campaign_id}".encode()
    return hmac.new(trigger_key.encode(), message, hashlib.sha256).digest()


def mint(trigger_key: str, org_id: uuid.UUID, campaign_id: uuid.UUID) -> str:
    raw = org_id.bytes + _mac(trigger_key, org_id, campaign_id)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def org_of(token: str) -> uuid.UUID | None:
    """The organization a well-formed token names (not yet verified); None for any other."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _ORG_BYTES + _MAC_BYTES:
        return None
    return uuid.UUID(bytes=raw[:_ORG_BYTES])


def verify(token: str, trigger_key: str, org_id: uuid.UUID, campaign_id: uuid.UUID) -> bool:
    """Whether the token is the campaign's, compared in constant time."""
    return hmac.compare_digest(token.encode(), mint(trigger_key, org_id, campaign_id).encode())
