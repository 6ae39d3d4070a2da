"""SMS provider bodies and answers. The auth token is write-only: answers say only that one is
set."""

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from outreach.kit.text import OneLine

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# The SID is both a URL path segment and the basic-auth user name: no '/', ':' or spaces.
ACCOUNT_SID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
BASE_URL_MAX_LENGTH = 2000
TWILIO_URL = "https://api.twilio.com"


def _from_number(value: object) -> str:
    if not isinstance(value, str) or not E164.match(value.strip()):
        raise PydanticCustomError(
            "SMS_FROM_NUMBER_INVALID",
            "from_number must be an E.164 phone number, e.g. +14155550100",
        )
    return value.strip()


def _account_sid(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PydanticCustomError("SMS_ACCOUNT_SID_REQUIRED", "account_sid is required")
    if not isinstance(value, str) or not ACCOUNT_SID.match(value.strip()):
        raise PydanticCustomError(
            "SMS_ACCOUNT_SID_INVALID",
            "account_sid must be 1 to 64 letters, digits, '.', '_' or '-'",
        )
    return value.strip()


def _auth_token(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise PydanticCustomError("SMS_AUTH_TOKEN_REQUIRED", "auth_token is required")
    if not isinstance(value, str):
        raise PydanticCustomError("SMS_AUTH_TOKEN_REQUIRED", "auth_token must be text")
    return value


def _base_url(value: object) -> str:
    invalid = PydanticCustomError(
        "SMS_BASE_URL_INVALID",
        "base_url must be an http(s) URL with a host and no query, e.g. https://api.twilio.com",
    )
    if not isinstance(value, str) or len(value) > BASE_URL_MAX_LENGTH:
        raise invalid
    url = value.strip()
    try:
        parts = urlsplit(url)
        # .port raises on a port that is not a number or out of range
        has_host = bool(parts.hostname) and parts.port != 0
    except ValueError:
        raise invalid from None
    if (
        parts.scheme not in ("http", "https")
        or not has_host
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(char.isspace() for char in url)
    ):
        raise invalid
    return url.rstrip("/")


FromNumber = Annotated[str, BeforeValidator(_from_number), OneLine]
AccountSid = Annotated[str, BeforeValidator(_account_sid)]
AuthToken = Annotated[str, BeforeValidator(_auth_token), Field(max_length=1000)]
BaseUrl = Annotated[str, BeforeValidator(_base_url)]


class SmsProviderIn(BaseModel):
    """The organization's SMS account at a provider with Twilio's API shape."""

    model_config = ConfigDict(extra="forbid")

    base_url: BaseUrl = Field(
        TWILIO_URL, description="The provider's API root; Twilio's unless another is given"
    )
    account_sid: AccountSid = Field(description="The account SID, also the basic-auth user")
    auth_token: AuthToken = Field(description="Write-only: stored encrypted, never returned")
    from_number: FromNumber = Field(description="The sending number, E.164 (+14155550100)")


class SmsProviderOut(BaseModel):
    base_url: str
    account_sid: str
    from_number: str
    has_auth_token: bool = Field(description="Whether an auth token is set (it is never shown)")
    created_at: datetime
    updated_at: datetime
