"""Compact, URL-safe, HMAC-signed tracking tokens, verified in memory with no database read."""

import base64
import enum
import hashlib
import hmac
import math
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

VERSION = 1
MAX_URL_BYTES = 2048
MIN_SECRET_CHARS = 32
# A forger must guess a 128-bit tag online, one HTTP request per guess: out of reach. A tag
# protects authenticity only, so the birthday bound of 2^64 is no concern; 16 bytes keep an
# open token under 100 characters.
TAG_BYTES = 16
# Binds the tag to this use: a MAC made with the same secret elsewhere never verifies here.
DOMAIN = b"outreach/tracking-token\x00"

_HEADER = struct.Struct(">BBI16s16s16s")
MIN_TOKEN_BYTES = _HEADER.size + TAG_BYTES
MAX_TOKEN_CHARS = math.ceil((MIN_TOKEN_BYTES + MAX_URL_BYTES) * 4 / 3)


class InvalidToken(Exception):
    """The text is not a token this service signed; the reason is not told to the caller."""


class TokenKind(enum.Enum):
    OPEN = 1
    CLICK = 2
    UNSUBSCRIBE = 3


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class TrackingToken:
    kind: TokenKind
    org_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_contact_id: uuid.UUID
    url: str | None = None
    # When the token was minted (whole seconds): the message's send time, for the scanner window.
    issued_at: datetime = field(default_factory=_now)


def _is_web_url(url: str) -> bool:
    # urlsplit silently drops tabs and newlines, so a URL holding them would be checked as
    # one address and redirected to as another (and CR/LF would split the Location header).
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class TrackingSigner:
    """Signs with the first secret; verifies with any of them, so secrets can be rotated.

    A token is base64url (no padding) of:

        version (1) | kind (1) | issued_at (4, Unix seconds) | org_id (16) | campaign_id (16)
        | campaign_contact_id (16) | URL (UTF-8, click tokens only) | tag (16)

    where the tag is HMAC-SHA256, truncated, over DOMAIN and everything before it.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("tracking tokens need at least one secret")
        if any(len(secret) < MIN_SECRET_CHARS for secret in secrets):
            raise ValueError(f"each tracking secret must be at least {MIN_SECRET_CHARS} characters")
        self._keys = tuple(secret.encode() for secret in secrets)

    def sign(self, token: TrackingToken) -> str:
        body = _HEADER.pack(
            VERSION,
            token.kind.value,
            _seconds(token.issued_at),
            token.org_id.bytes,
            token.campaign_id.bytes,
            token.campaign_contact_id.bytes,
        ) + _url_bytes(token)
        raw = body + _tag(self._keys[0], body)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def verify(self, text: str) -> TrackingToken:
        raw = _decode(text)
        body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        if not any(hmac.compare_digest(_tag(key, body), tag) for key in self._keys):
            raise InvalidToken
        return _parse(body)


def _seconds(issued_at: datetime) -> int:
    if issued_at.tzinfo is None:
        raise ValueError("issued_at must be timezone-aware")
    seconds = int(issued_at.timestamp())
    if not 0 <= seconds < 2**32:
        raise ValueError("issued_at is out of range")
    return seconds


def _url_bytes(token: TrackingToken) -> bytes:
    if token.kind is not TokenKind.CLICK:
        if token.url is not None:
            raise ValueError(f"a {token.kind.name.lower()} token carries no URL")
        return b""
    if token.url is None or not _is_web_url(token.url):
        raise ValueError("a click token needs an http or https URL with a host")
    url = token.url.encode()
    if len(url) > MAX_URL_BYTES:
        raise ValueError(f"the URL is longer than {MAX_URL_BYTES} bytes")
    return url


def _tag(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, DOMAIN + body, hashlib.sha256).digest()[:TAG_BYTES]


def _decode(text: str) -> bytes:
    if len(text) > MAX_TOKEN_CHARS:
        raise InvalidToken
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise InvalidToken from exc
    # Only the canonical spelling is accepted: no padding, no stray characters, no variant
    # with different unused low bits naming the same bytes.
    if len(raw) < MIN_TOKEN_BYTES or base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode():
        raise InvalidToken
    return raw


def _parse(body: bytes) -> TrackingToken:
    version, kind_value, seconds, org, campaign, contact = _HEADER.unpack_from(body)
    rest = body[_HEADER.size :]
    if version != VERSION:
        raise InvalidToken
    try:
        kind = TokenKind(kind_value)
        url = rest.decode() if kind is TokenKind.CLICK else None
    except ValueError as exc:  # an unknown kind, or a URL that is not UTF-8
        raise InvalidToken from exc
    if (url is None and rest) or (url is not None and not _is_web_url(url)):
        raise InvalidToken
    return TrackingToken(
        kind=kind,
        org_id=uuid.UUID(bytes=org),
        campaign_id=uuid.UUID(bytes=campaign),
        campaign_contact_id=uuid.UUID(bytes=contact),
        url=url,
        issued_at=datetime.fromtimestamp(seconds, UTC),
    )


# Async on purpose: a sync dependency would cost every request a hop to the thread pool.
async def get_tracking_signer(request: Request) -> TrackingSigner:
    signer: TrackingSigner = request.app.state.tracking_signer
    return signer


Signer = Annotated[TrackingSigner, Depends(get_tracking_signer)]
