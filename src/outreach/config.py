"""Settings from environment variables; every one of them is listed in .env.example."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import AfterValidator, AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_URL = "http://127.0.0.1:8000"  # `outreach serve`'s default address
DEV_JWT_SECRET = "dev-secret-change-me"  # noqa: S105 - the documented local default
DEV_TRACKING_SECRET = "dev-tracking-secret-change-me-0123456789"  # noqa: S105 - local default
# A Fernet key (urlsafe base64 of 32 bytes), readable as "dev-sender-secret-key-change-me!"
DEV_SENDER_SECRET_KEY = "ZGV2LXNlbmRlci1zZWNyZXQta2V5LWNoYW5nZS1tZSE="  # noqa: S105 - local default

# What production asks of a secret: HS256's own key size, and the variety of random text
# (a 32-byte secret of hex digits has about 16 different characters; "aaaa..." or "abab..." not).
SECRET_MIN_BYTES = 32
SECRET_MIN_DISTINCT = 10
RANDOM_STRING_COMMAND = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
FERNET_KEY_COMMAND = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            "must be an http(s) URL with a host and no query, e.g. https://outreach.example.com"
        )
    return url.rstrip("/")


def _fernet_key(key: str) -> str:
    try:
        Fernet(key)
    except ValueError as exc:
        raise ValueError(
            "not a Fernet key (urlsafe base64 of 32 bytes, as Fernet.generate_key() gives)"
        ) from exc
    return key


def _weakness(secret: str, default: str) -> str | None:
    """Why a secret must not guard production; None when it may."""
    if secret == default:
        return "is the development default, published in the source"
    if len(secret.encode()) < SECRET_MIN_BYTES:
        return f"is shorter than {SECRET_MIN_BYTES} bytes"
    if len(set(secret)) < SECRET_MIN_DISTINCT:
        return f"has fewer than {SECRET_MIN_DISTINCT} different characters: not random"
    return None


def _weak_secrets(variable: str, secrets: list[str], default: str, how: str) -> list[str]:
    # Every listed secret verifies (or decrypts), so one weak secret anywhere in a list is
    # as bad as a weak first one.
    problems = []
    for position, secret in enumerate(secrets, start=1):
        weakness = _weakness(secret, default)
        if weakness is not None:
            which = variable if len(secrets) == 1 else f"{variable} (secret {position})"
            problems.append(f"{which} {weakness}; set a random one: {how}")
    return problems


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTREACH_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    # text: one readable line per record; json: one JSON object per line, with the request id,
    # organization, route and job of the record (observability/logs.py).
    log_format: Literal["text", "json"] = "text"
    # One line per HTTP request. Unset: on with the json format, off with text.
    access_log: bool | None = None
    # GET /metrics and the request metrics behind it (observability/); false: neither.
    metrics: bool = True
    # Set: GET /metrics asks for `Authorization: Bearer <this>`. Unset: it is open, like
    # /healthz (keep it to your network).
    metrics_token: str | None = Field(default=None, min_length=16)
    # The database facts of /metrics (outbox depth, due walks, lags) are read again after this
    # many seconds, by the process answering the scrape; at most metrics_db_orgs organizations
    # are counted (those with the oldest due work first).
    metrics_db_seconds: float = Field(default=15, ge=1, le=3600)
    metrics_db_orgs: int = Field(default=1000, ge=1, le=100_000)

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "OUTREACH_DATABASE_URL")
    )
    database_owner_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_OWNER_URL", "OUTREACH_DATABASE_OWNER_URL"),
    )
    app_role: str = "outreach_app"
    data_dir: Path = Path(".data")
    db_pool_size: int = Field(default=20, ge=1, le=200)

    jwt_secret: str = DEV_JWT_SECRET
    jwt_algorithms: list[Literal["HS256", "RS256", "ES256"]] = ["HS256"]
    jwt_public_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=60)
    # Tokens that live longer (exp - iat, or exp - now without iat) are refused.
    jwt_max_lifetime_hours: float = Field(default=24, gt=0, le=24 * 366)

    # Newest first: the first signs tracking links, all of them verify (key rotation).
    tracking_secrets: list[Annotated[str, Field(min_length=32)]] = Field(
        default=[DEV_TRACKING_SECRET], min_length=1
    )

    # Newest first: the first encrypts SMTP passwords, all of them decrypt (key rotation).
    sender_secret_keys: list[Annotated[str, AfterValidator(_fernet_key)]] = Field(
        default=[DEV_SENDER_SECRET_KEY], min_length=1
    )

    # Opens and clicks waiting in memory for the database (an outage); past it they wait in
    # files under data_dir/tracking-spool.
    tracking_buffer_events: int = Field(default=20_000, ge=1, le=1_000_000)

    # Where the links the service gives out point (unsubscribe, tracking, reports, webhooks).
    # Required in production; unset locally, `outreach serve` sets it to its own address.
    public_url: Annotated[str, AfterValidator(_base_url)] | None = None
    # Hosts a tenant gives (sender SMTP hosts, the SMS provider's URL) may be loopback, private
    # or CGNAT addresses outside production; in production only when this is true (a relay on
    # the private network). Link-local and cloud metadata addresses are refused always.
    allow_private_targets: bool = False
    # POST /senders/{id}/test per organization per minute, counted in PostgreSQL.
    sender_tests_per_minute: int = Field(default=10, ge=1, le=10000)
    # Requests per minute of each user and each API key to /api/v1 (0: no limit), counted in
    # PostgreSQL (rate_limit_windows) so that every replica shares the count.
    rate_limit_per_minute: int = Field(default=600, ge=0, le=1_000_000)
    # POST /triggers/{campaign_id}/{token} (a campaign's webhook trigger) per campaign per minute.
    trigger_webhooks_per_minute: int = Field(default=600, ge=1, le=100_000)
    # Request bodies over this are refused (413) as they arrive, before parsing; routes that
    # take more (the CSV imports) are listed in outreach.main.BODY_LIMITS.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # A CSV import's file (POST .../contacts/import): stored as it streams in, refused (413)
    # as soon as it passes this.
    import_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    reconcile_minutes: int = Field(default=5, ge=1, le=1440)
    # false: this process serves requests only, and the background jobs run elsewhere
    run_jobs: bool = True

    # The service's own mail relay, e.g. smtp://user:password@smtp.example.com:587?tls=starttls
    # (tls: none, starttls or tls). Unset: `outreach serve` and `outreach worker` start the
    # embedded mail catcher of their database and send there.
    smtp_url: str | None = None
    # Set by the CLI when smtp_url points at the embedded catcher: the database it files into.
    mail_catcher: str | None = None
    # Unset: a free port chosen on the first start, recorded under data_dir, one per database.
    mail_catcher_port: int | None = Field(default=None, ge=1, le=65535)
    mail_from: str = "outreach@localhost"
    # Replies go to reply+<campaign contact id>@reply_domain (Postmark's inbound MailboxHash).
    reply_domain: str | None = None

    send_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # A sender's mailbox whose server has no IDLE is read again this long after its last sync.
    mailbox_poll_seconds: float = Field(default=60.0, ge=1, le=3600)
    # IMAP connections a process holds at once (syncs and IDLE sessions).
    mailbox_connections: int = Field(default=20, ge=1, le=1000)
    send_batch_size: int = Field(default=50, ge=1, le=1000)
    # SMTP connections a worker opens to one sender's server for a batch (spacing: one).
    send_connections: int = Field(default=4, ge=1, le=32)
    # A claimed message not reported sent within the lease is claimed again (worker died).
    send_lease_seconds: int = Field(default=300, ge=1, le=86400)
    # Each send waits the sender's spacing plus up to this fraction of it, at random.
    send_jitter_fraction: float = Field(default=0.5, ge=0, le=5)
    # The circuit breaker judges a sender on its most recent sends, once it has this many.
    breaker_window: int = Field(default=500, ge=10, le=100000)
    breaker_min_sends: int = Field(default=50, ge=1, le=100000)
    plan_minutes: float = Field(default=0.5, gt=0, le=1440)
    archive_after_days: int = Field(default=90, ge=1)
    retention_days: int = Field(default=730, ge=1)
    # Time one message may take to render (all its parts), in previews and when sending.
    template_render_seconds: float = Field(default=2.0, gt=0, le=60)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if "HS256" in self.jwt_algorithms and not self.jwt_secret.strip():
            # HMAC takes an empty key: anyone could sign tokens for any organization.
            raise ValueError(
                f"OUTREACH_JWT_SECRET is empty; set a random secret: {RANDOM_STRING_COMMAND}"
            )
        if self.env == "production" and (problems := self._weak_secrets()):
            raise ValueError("weak secrets for production:\n" + "\n".join(problems))
        asymmetric = {"RS256", "ES256"} & set(self.jwt_algorithms)
        if asymmetric and not self.jwt_public_key:
            raise ValueError(
                f"OUTREACH_JWT_ALGORITHMS allows {sorted(asymmetric)}: "
                "set OUTREACH_JWT_PUBLIC_KEY to the identity provider's public key"
            )
        return self

    def _weak_secrets(self) -> list[str]:
        problems = _weak_secrets(
            "OUTREACH_TRACKING_SECRETS",
            self.tracking_secrets,
            DEV_TRACKING_SECRET,
            RANDOM_STRING_COMMAND,
        ) + _weak_secrets(
            "OUTREACH_SENDER_SECRET_KEYS",
            self.sender_secret_keys,
            DEV_SENDER_SECRET_KEY,
            FERNET_KEY_COMMAND,
        )
        if "HS256" in self.jwt_algorithms:  # otherwise no token is checked with the secret
            jwt = _weak_secrets(
                "OUTREACH_JWT_SECRET", [self.jwt_secret], DEV_JWT_SECRET, RANDOM_STRING_COMMAND
            )
            problems = jwt + problems
        return problems

    @model_validator(mode="after")
    def _public_url_in_production(self) -> "Settings":
        if self.env == "production" and not self.public_url:
            raise ValueError(
                "OUTREACH_PUBLIC_URL is unset: set it to the address the service answers on "
                "(e.g. https://outreach.example.com); links in the mail it sends point there"
            )
        return self

    @property
    def links_base_url(self) -> str:
        """OUTREACH_PUBLIC_URL; without it (an app not started by `outreach serve`, tests) the
        default local address."""
        return (self.public_url or LOCAL_URL).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_problems(error: ValidationError) -> str:
    """What is wrong with the environment, one line per variable, for an operator to fix."""
    lines = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["loc"]:
            name = str(problem["loc"][0])
            variable = name if name.isupper() else f"OUTREACH_{name.upper()}"
            message = f"{variable}: {message}"
        lines.append(message)
    return "\n".join(lines)
