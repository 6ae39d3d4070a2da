"""Settings from environment variables; every one of them is listed in .env.example."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from cryptography.fernet import Fernet
from pydantic import AfterValidator, AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-secret-change-me"  # noqa: S105 - the documented local default
DEV_TRACKING_SECRET = "dev-tracking-secret-change-me-0123456789"  # noqa: S105 - local default
# A Fernet key (urlsafe base64 of 32 bytes), readable as "dev-sender-secret-key-change-me!"
DEV_SENDER_SECRET_KEY = "ZGV2LXNlbmRlci1zZWNyZXQta2V5LWNoYW5nZS1tZSE="  # noqa: S105 - local default


def _fernet_key(key: str) -> str:
    try:
        Fernet(key)
    except ValueError as exc:
        raise ValueError(
            "not a Fernet key (urlsafe base64 of 32 bytes, as Fernet.generate_key() gives)"
        ) from exc
    return key


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OUTREACH_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

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

    public_url: str | None = None
    reconcile_minutes: int = Field(default=5, ge=1, le=1440)
    # false: this process serves requests only, and the background jobs run elsewhere
    run_jobs: bool = True

    # The service's own mail relay, e.g. smtp://user:password@smtp.example.com:587?tls=starttls
    # (tls: none, starttls or tls). Unset: `outreach serve` and `outreach worker` start the
    # embedded mail catcher on mail_catcher_port and send there.
    smtp_url: str | None = None
    mail_catcher: bool = False  # set by the CLI when smtp_url points at the embedded catcher
    mail_catcher_port: int = Field(default=1025, ge=1, le=65535)
    mail_from: str = "outreach@localhost"
    # Replies go to reply+<campaign contact id>@reply_domain (Postmark's inbound MailboxHash).
    reply_domain: str | None = None

    send_poll_seconds: float = Field(default=1.0, gt=0, le=60)
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

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> "Settings":
        if self.env == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "OUTREACH_JWT_SECRET is the development default; set a real secret in production"
            )
        if self.env == "production" and DEV_TRACKING_SECRET in self.tracking_secrets:
            # Any listed secret verifies, so the public default anywhere in the list forges links.
            raise ValueError(
                "OUTREACH_TRACKING_SECRETS holds the development default; "
                "use only real secrets in production"
            )
        if self.env == "production" and DEV_SENDER_SECRET_KEY in self.sender_secret_keys:
            # Any listed key decrypts, so the public default anywhere in the list exposes passwords.
            raise ValueError(
                "OUTREACH_SENDER_SECRET_KEYS holds the development default; "
                "use only real keys in production"
            )
        asymmetric = {"RS256", "ES256"} & set(self.jwt_algorithms)
        if asymmetric and not self.jwt_public_key:
            raise ValueError(
                f"OUTREACH_JWT_ALGORITHMS allows {sorted(asymmetric)}: "
                "set OUTREACH_JWT_PUBLIC_KEY to the identity provider's public key"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
