"""Tracking tokens: round trips, key rotation, and every way to tamper with one."""

import base64
import hashlib
import hmac
import json
import random
import string
import struct
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from outreach.config import DEV_TRACKING_SECRET, Settings
from outreach.tracking.tokens import (
    DOMAIN,
    MAX_TOKEN_CHARS,
    MAX_URL_BYTES,
    TAG_BYTES,
    InvalidToken,
    TokenKind,
    TrackingSigner,
    TrackingToken,
)

OLD_SECRET = "old-tracking-secret-0123456789-abcdef"
NEW_SECRET = "new-tracking-secret-0123456789-abcdef"
OTHER_SECRET = "someone-elses-secret-0123456789-abcdef"
ISSUED = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
URL = "https://example.com/pricing?utm_source=outreach#plans"
B64_ALPHABET = string.ascii_letters + string.digits + "-_"


def _token(kind: TokenKind = TokenKind.OPEN, url: str | None = None) -> TrackingToken:
    return TrackingToken(
        kind=kind,
        org_id=uuid.UUID("0b0e6a4e-54a4-4d4e-9a2b-2f1d7c3e9a01"),
        campaign_id=uuid.UUID("6f1c2d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5"),
        campaign_contact_id=uuid.UUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"),
        url=url,
        issued_at=ISSUED,
    )


def _raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed_with(secret: str, body: bytes) -> str:
    """A token over any body, tagged with a real secret: what a bug or a leaked key could make."""
    tag = hmac.new(secret.encode(), DOMAIN + body, hashlib.sha256).digest()[:TAG_BYTES]
    return _text(body + tag)


def _body(version: int = 1, kind: int = 1, tail: bytes = b"") -> bytes:
    ids = _token()
    return (
        struct.pack(">BBI", version, kind, int(ISSUED.timestamp()))
        + ids.org_id.bytes
        + ids.campaign_id.bytes
        + ids.campaign_contact_id.bytes
        + tail
    )


@pytest.fixture
def signer() -> TrackingSigner:
    return TrackingSigner([NEW_SECRET, OLD_SECRET])


ALL_KINDS = [
    _token(TokenKind.OPEN),
    _token(TokenKind.CLICK, URL),
    _token(TokenKind.UNSUBSCRIBE),
]


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_each_kind_round_trips(signer: TrackingSigner, token: TrackingToken) -> None:
    assert signer.verify(signer.sign(token)) == token


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_token_is_url_safe_without_padding(signer: TrackingSigner, token: TrackingToken) -> None:
    assert set(signer.sign(token)) <= set(B64_ALPHABET)


def test_open_and_unsubscribe_tokens_stay_under_100_characters(signer: TrackingSigner) -> None:
    assert len(signer.sign(_token(TokenKind.OPEN))) == 94
    assert len(signer.sign(_token(TokenKind.UNSUBSCRIBE))) == 94


def test_issued_at_defaults_to_now_in_whole_seconds(signer: TrackingSigner) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    token = TrackingToken(TokenKind.OPEN, uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    after = datetime.now(UTC)
    assert before <= token.issued_at <= after
    assert token.issued_at.microsecond == 0
    assert signer.verify(signer.sign(token)) == token


def test_naive_issued_at_is_refused(signer: TrackingSigner) -> None:
    naive = TrackingToken(
        TokenKind.OPEN, uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), issued_at=datetime(2026, 1, 1)
    )
    with pytest.raises(ValueError, match="timezone"):
        signer.sign(naive)


# Rotation


def test_token_signed_with_old_secret_verifies_after_a_new_one_is_prepended() -> None:
    text = TrackingSigner([OLD_SECRET]).sign(_token())
    assert TrackingSigner([NEW_SECRET, OLD_SECRET]).verify(text) == _token()


def test_the_first_secret_signs() -> None:
    text = TrackingSigner([NEW_SECRET, OLD_SECRET]).sign(_token())
    assert TrackingSigner([NEW_SECRET]).verify(text) == _token()
    with pytest.raises(InvalidToken):
        TrackingSigner([OLD_SECRET]).verify(text)


def test_token_signed_by_an_unknown_secret_fails(signer: TrackingSigner) -> None:
    for token in ALL_KINDS:
        with pytest.raises(InvalidToken):
            signer.verify(TrackingSigner([OTHER_SECRET]).sign(token))


def test_token_signed_with_a_retired_secret_fails() -> None:
    text = TrackingSigner([OLD_SECRET]).sign(_token())
    with pytest.raises(InvalidToken):
        TrackingSigner([NEW_SECRET]).verify(text)


@pytest.mark.parametrize(
    ("secrets", "message"),
    [([], "at least one secret"), ([NEW_SECRET, "short"], "at least 32 characters")],
)
def test_signer_refuses_missing_or_short_secrets(secrets: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackingSigner(secrets)


# Tampering


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_flipping_any_bit_is_refused(signer: TrackingSigner, token: TrackingToken) -> None:
    raw = _raw(signer.sign(token))
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidToken):
            signer.verify(_text(bytes(flipped)))


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_changing_any_character_is_refused(signer: TrackingSigner, token: TrackingToken) -> None:
    text = signer.sign(token)
    for i, original in enumerate(text):
        for replacement in B64_ALPHABET.replace(original, "")[::7]:
            with pytest.raises(InvalidToken):
                signer.verify(text[:i] + replacement + text[i + 1 :])


def test_only_the_canonical_spelling_verifies(signer: TrackingSigner) -> None:
    # 70 bytes leave 4 unused bits in the last character: 16 spellings, one byte string.
    text = signer.sign(_token())
    accepted = []
    for last in B64_ALPHABET:
        try:
            signer.verify(text[:-1] + last)
        except InvalidToken:
            continue
        accepted.append(last)
    assert accepted == [text[-1]]


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_truncated_token_is_refused(signer: TrackingSigner, token: TrackingToken) -> None:
    text = signer.sign(token)
    for length in range(len(text)):
        with pytest.raises(InvalidToken):
            signer.verify(text[:length])


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_extended_token_is_refused(signer: TrackingSigner, token: TrackingToken) -> None:
    text = signer.sign(token)
    for suffix in ("A", "AA", "AAAA", "=", "==", ".gif", "%00"):
        with pytest.raises(InvalidToken):
            signer.verify(text + suffix)
    with pytest.raises(InvalidToken):
        signer.verify(_text(_raw(text) + b"\x00"))


@pytest.mark.parametrize("token", ALL_KINDS, ids=lambda t: t.kind.name.lower())
def test_re_signed_with_another_secret_is_refused(
    signer: TrackingSigner, token: TrackingToken
) -> None:
    raw = _raw(signer.sign(token))
    with pytest.raises(InvalidToken):
        signer.verify(_signed_with(OTHER_SECRET, raw[:-TAG_BYTES]))


def test_kind_survives_and_an_open_token_never_verifies_as_a_click(
    signer: TrackingSigner,
) -> None:
    text = signer.sign(_token(TokenKind.OPEN))
    assert signer.verify(text).kind is TokenKind.OPEN
    raw = bytearray(_raw(text))
    for kind in (TokenKind.CLICK, TokenKind.UNSUBSCRIBE):
        raw[1] = kind.value
        with pytest.raises(InvalidToken):
            signer.verify(_text(bytes(raw)))


def test_open_token_with_a_url_appended_is_refused(signer: TrackingSigner) -> None:
    raw = _raw(signer.sign(_token(TokenKind.OPEN)))
    body = bytearray(raw[:-TAG_BYTES] + URL.encode())
    body[1] = TokenKind.CLICK.value
    with pytest.raises(InvalidToken):
        signer.verify(_text(bytes(body) + raw[-TAG_BYTES:]))


def test_swapping_the_url_is_refused(signer: TrackingSigner) -> None:
    raw = _raw(signer.sign(_token(TokenKind.CLICK, URL)))
    evil = URL.replace("example.com", "evil.example")
    header = raw[: -TAG_BYTES - len(URL.encode())]
    with pytest.raises(InvalidToken):
        signer.verify(_text(header + evil.encode() + raw[-TAG_BYTES:]))


def test_the_url_is_part_of_the_signature(signer: TrackingSigner) -> None:
    first = signer.sign(_token(TokenKind.CLICK, URL))
    second = signer.sign(_token(TokenKind.CLICK, URL + "x"))
    assert first[-22:] != second[-22:]


# Malformed input


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a",
        "!!!!",
        "not a token",
        "é" * 94,
        "A" * 94,
        "A" * (MAX_TOKEN_CHARS + 1),
        "../../etc/passwd",
    ],
    ids=lambda t: f"{len(t)}-chars",
)
def test_garbage_is_refused(signer: TrackingSigner, text: str) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(text)


def test_padded_spelling_is_refused(signer: TrackingSigner) -> None:
    text = signer.sign(_token())
    assert len(text) % 4 == 2
    with pytest.raises(InvalidToken):
        signer.verify(text + "==")


def test_standard_base64_alphabet_is_refused(signer: TrackingSigner) -> None:
    rng = random.Random(3)
    text = next(
        t for t in (signer.sign(_random_token(rng)) for _ in range(100)) if {"-", "_"} & set(t)
    )
    standard = text.replace("-", "+").replace("_", "/")
    with pytest.raises(InvalidToken):
        signer.verify(standard)


@pytest.mark.parametrize(
    "body",
    [
        _body(version=2),
        _body(version=0),
        _body(kind=0),
        _body(kind=4),
        _body(kind=255),
        _body(kind=1, tail=b"x"),
        _body(kind=3, tail=URL.encode()),
        _body(kind=2),
        _body(kind=2, tail=b"https://example.com/\xff\xfe"),
        _body(kind=2, tail=b"javascript:alert(1)"),
        _body(kind=2, tail=b"https:///no-host"),
        _body(kind=2, tail=b"https://example.com/\r\nSet-Cookie: a=b"),
        _body()[:-1],
    ],
    ids=[
        "version-2",
        "version-0",
        "kind-0",
        "kind-4",
        "kind-255",
        "open-with-trailing-bytes",
        "unsubscribe-with-url",
        "click-without-url",
        "url-not-utf8",
        "url-javascript",
        "url-without-host",
        "url-with-crlf",
        "short-body",
    ],
)
def test_correctly_tagged_but_malformed_bodies_are_refused(
    signer: TrackingSigner, body: bytes
) -> None:
    with pytest.raises(InvalidToken):
        signer.verify(_signed_with(NEW_SECRET, body))


def test_a_well_formed_body_tagged_the_same_way_verifies(signer: TrackingSigner) -> None:
    assert signer.verify(_signed_with(NEW_SECRET, _body())) == _token()


# Signing refuses what it cannot stand behind


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "//example.com/path",
        "/relative/path",
        "http://",
        "https:///path",
        "https://example.com/\r\nLocation: https://evil.example",
        "https://exa\tmple.com/",
        "http://[::1",
        "",
    ],
)
def test_non_web_url_is_refused_at_signing(signer: TrackingSigner, url: str) -> None:
    with pytest.raises(ValueError, match="http or https"):
        signer.sign(_token(TokenKind.CLICK, url))


def test_click_without_url_is_refused_at_signing(signer: TrackingSigner) -> None:
    with pytest.raises(ValueError, match="http or https"):
        signer.sign(_token(TokenKind.CLICK))


@pytest.mark.parametrize("kind", [TokenKind.OPEN, TokenKind.UNSUBSCRIBE])
def test_url_on_a_non_click_token_is_refused_at_signing(
    signer: TrackingSigner, kind: TokenKind
) -> None:
    with pytest.raises(ValueError, match="carries no URL"):
        signer.sign(_token(kind, URL))


def test_url_of_2048_bytes_is_signed_and_one_more_byte_is_refused(
    signer: TrackingSigner,
) -> None:
    prefix = "https://example.com/"
    longest = prefix + "é" * ((MAX_URL_BYTES - len(prefix)) // 2)
    assert len(longest.encode()) == MAX_URL_BYTES
    text = signer.sign(_token(TokenKind.CLICK, longest))
    assert len(text) == MAX_TOKEN_CHARS
    assert signer.verify(text).url == longest
    with pytest.raises(ValueError, match="2048 bytes"):
        signer.sign(_token(TokenKind.CLICK, longest + "x"))


def test_internationalised_url_round_trips(signer: TrackingSigner) -> None:
    url = "https://bücher.example/straße?q=日本"
    assert signer.verify(signer.sign(_token(TokenKind.CLICK, url))).url == url


# Many random payloads


def _random_token(rng: random.Random) -> TrackingToken:
    kind = rng.choice(list(TokenKind))
    url = None
    if kind is TokenKind.CLICK:
        host = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 20))) + ".example"
        path = "".join(
            rng.choices(
                string.ascii_letters + string.digits + "/?&=#%-._~é日", k=rng.randint(0, 300)
            )
        )
        url = f"{rng.choice(['http', 'https'])}://{host}/{path}"
    return TrackingToken(
        kind=kind,
        org_id=uuid.UUID(int=rng.getrandbits(128)),
        campaign_id=uuid.UUID(int=rng.getrandbits(128)),
        campaign_contact_id=uuid.UUID(int=rng.getrandbits(128)),
        url=url,
        issued_at=datetime.fromtimestamp(rng.randrange(2**32), UTC),
    )


def test_random_tokens_round_trip_and_any_mutation_is_refused(signer: TrackingSigner) -> None:
    rng = random.Random(20261123)
    for _ in range(500):
        token = _random_token(rng)
        text = signer.sign(token)
        assert signer.verify(text) == token
        assert set(text) <= set(B64_ALPHABET)

        i = rng.randrange(len(text))
        mutated = text[:i] + rng.choice(B64_ALPHABET.replace(text[i], "")) + text[i + 1 :]
        with pytest.raises(InvalidToken):
            signer.verify(mutated)
        with pytest.raises(InvalidToken):
            signer.verify(text[: rng.randrange(len(text))])


def test_random_bytes_never_verify(signer: TrackingSigner) -> None:
    rng = random.Random(7)
    for _ in range(2000):
        with pytest.raises(InvalidToken):
            signer.verify(_text(rng.randbytes(rng.randint(0, 200))))


# Settings


def test_settings_read_tracking_secrets_as_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_TRACKING_SECRETS", json.dumps([NEW_SECRET, OLD_SECRET]))
    settings = Settings(env="test", _env_file=None)  # type: ignore[call-arg]
    assert settings.tracking_secrets == [NEW_SECRET, OLD_SECRET]


def test_settings_default_is_a_usable_development_secret() -> None:
    settings = Settings(env="development", _env_file=None)  # type: ignore[call-arg]
    assert settings.tracking_secrets == [DEV_TRACKING_SECRET]
    TrackingSigner(settings.tracking_secrets)


@pytest.mark.parametrize(
    "secrets", [[DEV_TRACKING_SECRET], [NEW_SECRET, DEV_TRACKING_SECRET]], ids=["alone", "listed"]
)
def test_production_refuses_the_development_tracking_secret(secrets: list[str]) -> None:
    with pytest.raises(ValidationError, match="OUTREACH_TRACKING_SECRETS"):
        Settings(  # type: ignore[call-arg]
            env="production",
            jwt_secret="a-real-production-jwt-secret-0123456789",
            tracking_secrets=secrets,
            _env_file=None,
        )


def test_production_accepts_real_tracking_secrets() -> None:
    settings = Settings(  # type: ignore[call-arg]
        env="production",
        jwt_secret="a-real-production-jwt-secret-0123456789",
        tracking_secrets=[NEW_SECRET],
        sender_secret_keys=[Fernet.generate_key().decode()],
        public_url="https://outreach.example.com",
        _env_file=None,
    )
    assert settings.tracking_secrets == [NEW_SECRET]


@pytest.mark.parametrize("secrets", [[], ["too-short"]], ids=["empty", "short"])
def test_settings_refuse_empty_or_short_tracking_secrets(secrets: list[str]) -> None:
    with pytest.raises(ValidationError, match="tracking_secrets"):
        Settings(env="test", tracking_secrets=secrets, _env_file=None)  # type: ignore[call-arg]


def test_tokens_do_not_expire(signer: TrackingSigner) -> None:
    old = TrackingToken(
        TokenKind.OPEN,
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(days=3650),
    )
    assert signer.verify(signer.sign(old)) == old
