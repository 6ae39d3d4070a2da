"""Settings that decide where the service's links point."""

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from outreach.config import Settings

PRODUCTION = {
    "env": "production",
    "jwt_secret": "a-real-production-jwt-secret-0123456789",
    "tracking_secrets": ["a-real-production-tracking-secret-0123456789"],
    "sender_secret_keys": [Fernet.generate_key().decode()],
}


def test_production_refuses_to_start_without_a_public_url() -> None:
    with pytest.raises(ValidationError, match="OUTREACH_PUBLIC_URL is unset: set it to"):
        Settings(**PRODUCTION, _env_file=None)  # type: ignore[arg-type]
    settings = Settings(**PRODUCTION, public_url="https://outreach.example.com/", _env_file=None)  # type: ignore[arg-type]
    assert settings.links_base_url == "https://outreach.example.com"


@pytest.mark.parametrize(
    "url",
    ["outreach.example.com", "ftp://outreach.example.com", "https://", "https://a.example/?x=1"],
)
def test_the_public_url_must_be_an_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(env="test", public_url=url, _env_file=None)  # type: ignore[call-arg]
