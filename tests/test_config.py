"""Settings an operator must get right: production refuses weak secrets, and the process
stops at start saying what to set."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from outreach.config import DEV_JWT_SECRET, Settings

STRONG = {
    "jwt_secret": "4Wq9-zTnV2rYb8KcLmP0sXeHuJd7Gf3A",
    "tracking_secrets": ["Yk2-9rTqW4nVb7XcZm1PsLe8HuJd3Gf6Aa"],
    "sender_secret_keys": [Fernet.generate_key().decode()],
    "public_url": "https://outreach.example.com",
}


def production(**overrides: Any) -> Settings:
    return Settings(env="production", _env_file=None, **(STRONG | overrides))  # type: ignore[call-arg]


def test_production_starts_with_strong_secrets() -> None:
    assert production().env == "production"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"jwt_secret": DEV_JWT_SECRET}, "OUTREACH_JWT_SECRET is the development default"),
        ({"jwt_secret": "x7Kp2-Lq9Zt4Wm8Rv3Nb6Yc1Hs5Jd0F"}, "shorter than 32 bytes"),
        ({"jwt_secret": "ab" * 24}, "OUTREACH_JWT_SECRET has fewer than 10 different characters"),
        ({"tracking_secrets": ["0" * 40]}, "OUTREACH_TRACKING_SECRETS has fewer than 10"),
        (
            {"tracking_secrets": [*STRONG["tracking_secrets"], "abc" * 12]},
            "OUTREACH_TRACKING_SECRETS (secret 2) has fewer than 10",
        ),
        (
            {"sender_secret_keys": ["A" * 43 + "="]},
            "OUTREACH_SENDER_SECRET_KEYS has fewer than 10",
        ),
    ],
    ids=["jwt-default", "jwt-31-bytes", "jwt-repetitive", "tracking", "tracking-2nd", "fernet"],
)
def test_production_refuses_weak_secrets(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        production(**overrides)
    assert problem in str(refused.value)
    assert "set a random one: python -c" in str(refused.value)


def test_a_32_byte_secret_counts_bytes_not_characters() -> None:
    assert production(jwt_secret="é" * 6 + "x7Kp2-Lq9Zt4Wm8Rv3Nb").env == "production"


def test_without_hs256_production_does_not_ask_for_a_jwt_secret() -> None:
    key = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"
    settings = production(jwt_secret=DEV_JWT_SECRET, jwt_algorithms=["RS256"], jwt_public_key=key)
    assert settings.jwt_algorithms == ["RS256"]


@pytest.mark.parametrize("env", ["development", "test", "production"])
@pytest.mark.parametrize("secret", ["", "   "])
def test_an_empty_jwt_secret_is_refused_in_every_env(env: str, secret: str) -> None:
    with pytest.raises(ValidationError, match="OUTREACH_JWT_SECRET is empty"):
        Settings(env=env, jwt_secret=secret, _env_file=None)  # type: ignore[call-arg]


def test_outside_production_a_short_secret_is_allowed() -> None:
    assert Settings(env="development", jwt_secret="local", _env_file=None).jwt_secret == "local"  # type: ignore[call-arg]


def outreach(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it, in a folder without a .env file."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("OUTREACH_")
    }
    environment.pop("DATABASE_URL", None)
    return subprocess.run(  # noqa: S603 - our own command, with the test's arguments
        [sys.executable, "-m", "outreach.cli", *args],
        cwd=tmp_path,
        env=environment | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_with_weak_secrets_stops_at_start_saying_what_to_set(tmp_path: Path) -> None:
    started = outreach(
        tmp_path, "serve", "--port", "9", OUTREACH_ENV="production", OUTREACH_JWT_SECRET="short"
    )
    assert started.returncode == 2
    assert started.stderr.startswith("refusing to start:\n")
    assert "OUTREACH_JWT_SECRET is shorter than 32 bytes" in started.stderr
    assert "OUTREACH_TRACKING_SECRETS is the development default" in started.stderr
    assert "OUTREACH_SENDER_SECRET_KEYS is the development default" in started.stderr
    assert "Traceback" not in started.stderr
    assert not (tmp_path / ".data").exists()  # stopped before starting anything


def test_an_empty_jwt_secret_stops_every_command(tmp_path: Path) -> None:
    minted = outreach(tmp_path, "token", OUTREACH_JWT_SECRET="")
    assert minted.returncode == 2
    assert "OUTREACH_JWT_SECRET is empty" in minted.stderr
    assert minted.stdout == ""


def test_token_hours_beyond_the_maximum_lifetime_are_refused(tmp_path: Path) -> None:
    refused = outreach(tmp_path, "token", "--hours", "25")
    assert refused.returncode == 2
    assert "OUTREACH_JWT_MAX_LIFETIME_HOURS" in refused.stderr
    assert refused.stdout == ""
    allowed = outreach(tmp_path, "token", "--hours", "2", OUTREACH_JWT_MAX_LIFETIME_HOURS="2")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.count(".") == 2


def test_production_refuses_to_start_without_a_public_url() -> None:
    with pytest.raises(ValidationError, match="OUTREACH_PUBLIC_URL is unset: set it to"):
        production(public_url=None)
    settings = production(public_url="https://outreach.example.com/")
    assert settings.links_base_url == "https://outreach.example.com"


@pytest.mark.parametrize(
    "url",
    ["outreach.example.com", "ftp://outreach.example.com", "https://", "https://a.example/?x=1"],
)
def test_the_public_url_must_be_an_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(env="test", public_url=url, _env_file=None)  # type: ignore[call-arg]
