"""The SMS provider configuration: create, replace, read without the token, delete, field
rules, roles, tenancy, and the encrypted token the send loop sends with."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.kit.targets import TargetGuard
from outreach.kit.tenancy import org_session
from outreach.sending.secrets import SenderSecrets
from outreach.sending.sms_provider.service import sms_account
from outreach.sending.transports.sms import SmsAccount, SmsSent, send_sms, sms_client
from tests.factories import Org
from tests.sending.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    OK_NUMBER,
    TwilioServer,
    twilio_server,
)

SMS_PROVIDER = "/api/v1/sms-provider"
BODY = {
    "base_url": "https://api.twilio.com",
    "account_sid": ACCOUNT_SID,
    "auth_token": AUTH_TOKEN,
    "from_number": FROM_NUMBER,
}


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioServer]:
    with twilio_server() as server:
        yield server


def put(client: TestClient, org: Org, role: Role = Role.ADMIN, **fields: Any) -> Any:
    return client.put(SMS_PROVIDER, json=BODY | fields, headers=org.headers(role))


def get(client: TestClient, org: Org, role: Role = Role.ADMIN) -> Any:
    return client.get(SMS_PROVIDER, headers=org.headers(role))


def stored_token(as_owner: psycopg.Connection, org: Org) -> str | None:
    row = as_owner.execute(
        "SELECT auth_token_encrypted FROM sms_providers WHERE org_id = %s", (org.id,)
    ).fetchone()
    return None if row is None else row[0]  # type: ignore[no-any-return]


def account_of(urls: DatabaseUrls, org_id: uuid.UUID, secrets: SenderSecrets) -> SmsAccount | None:
    async def load() -> SmsAccount | None:
        engine = create_engine(urls.app, pool_size=1)
        try:
            async with org_session(create_sessionmaker(engine), org_id) as session, session.begin():
                return await sms_account(session, org_id, secrets)
        finally:
            await engine.dispose()

    return asyncio.run(load())


def test_put_creates_the_configuration_without_returning_the_token(
    client: TestClient, org: Org
) -> None:
    answer = put(client, org)
    assert answer.status_code == 201, answer.text
    provider = answer.json()
    assert provider["base_url"] == "https://api.twilio.com"
    assert provider["account_sid"] == ACCOUNT_SID
    assert provider["from_number"] == FROM_NUMBER
    assert provider["has_auth_token"] is True
    assert "auth_token" not in provider
    assert AUTH_TOKEN not in answer.text


def test_base_url_defaults_to_twilio(client: TestClient, org: Org) -> None:
    body = {k: v for k, v in BODY.items() if k != "base_url"}
    answer = client.put(SMS_PROVIDER, json=body, headers=org.headers())
    assert answer.status_code == 201
    assert answer.json()["base_url"] == "https://api.twilio.com"


def test_get_returns_the_configuration_to_any_role_without_the_token(
    client: TestClient, org: Org
) -> None:
    created = put(client, org).json()
    for role in Role:
        answer = get(client, org, role)
        assert answer.status_code == 200
        assert answer.json() == created
        assert AUTH_TOKEN not in answer.text


def test_get_without_a_configuration_is_not_configured(client: TestClient, org: Org) -> None:
    answer = get(client, org)
    assert answer.status_code == 404
    assert answer.json()["code"] == "SMS_PROVIDER_NOT_CONFIGURED"


def test_put_again_replaces_the_configuration(
    client: TestClient, org: Org, settings: Settings, as_owner: psycopg.Connection
) -> None:
    first = put(client, org).json()
    answer = put(
        client,
        org,
        base_url="https://sms.example.com/",
        account_sid="AC-other",
        auth_token="new-token",
        from_number="+33612345678",
    )
    assert answer.status_code == 200, answer.text
    replaced = answer.json()
    assert (replaced["base_url"], replaced["account_sid"], replaced["from_number"]) == (
        "https://sms.example.com",
        "AC-other",
        "+33612345678",
    )
    assert replaced["created_at"] == first["created_at"]
    assert replaced["updated_at"] > first["updated_at"]
    assert get(client, org).json() == replaced
    ciphertext = stored_token(as_owner, org)
    assert ciphertext is not None
    assert SenderSecrets(settings.sender_secret_keys).decrypt(ciphertext) == "new-token"


def test_auth_token_is_stored_encrypted(
    client: TestClient, org: Org, settings: Settings, as_owner: psycopg.Connection
) -> None:
    put(client, org)
    ciphertext = stored_token(as_owner, org)
    assert ciphertext is not None
    assert AUTH_TOKEN not in ciphertext
    assert SenderSecrets(settings.sender_secret_keys).decrypt(ciphertext) == AUTH_TOKEN


def test_delete_removes_the_configuration(client: TestClient, org: Org) -> None:
    put(client, org)
    answer = client.delete(SMS_PROVIDER, headers=org.headers(Role.TA_MANAGER))
    assert answer.status_code == 204
    assert get(client, org).json()["code"] == "SMS_PROVIDER_NOT_CONFIGURED"


def test_delete_without_a_configuration_is_not_configured(client: TestClient, org: Org) -> None:
    answer = client.delete(SMS_PROVIDER, headers=org.headers())
    assert answer.status_code == 404
    assert answer.json()["code"] == "SMS_PROVIDER_NOT_CONFIGURED"


@pytest.mark.parametrize(
    "number", ["0612345678", "+0612345678", "+12345", "+1234567890123456", "+33 6 12 34 56 78", ""]
)
def test_from_number_must_be_e164(client: TestClient, org: Org, number: str) -> None:
    answer = put(client, org, from_number=number)
    assert answer.status_code == 422
    assert answer.json()["code"] == "SMS_FROM_NUMBER_INVALID"
    assert answer.json()["errors"][0]["field"] == "from_number"


@pytest.mark.parametrize("number", ["+14155550100\n", "\r\n+14155550100", "+1415555\u20280100"])
def test_from_number_with_control_characters_is_refused(
    client: TestClient, org: Org, number: str
) -> None:
    answer = put(client, org, from_number=number)
    assert answer.status_code == 422
    assert answer.json()["code"] == "TEXT_CONTROL_CHARACTERS"
    assert answer.json()["errors"][0]["field"] == "from_number"


@pytest.mark.parametrize("sid", ["", "   "])
def test_account_sid_is_required(client: TestClient, org: Org, sid: str) -> None:
    assert put(client, org, account_sid=sid).json()["code"] == "SMS_ACCOUNT_SID_REQUIRED"


@pytest.mark.parametrize("sid", ["A" * 65, "AC/../x", "AC:x", "AC x"])
def test_account_sid_is_at_most_64_safe_characters(client: TestClient, org: Org, sid: str) -> None:
    answer = put(client, org, account_sid=sid)
    assert answer.status_code == 422
    assert answer.json()["code"] == "SMS_ACCOUNT_SID_INVALID"


def test_auth_token_is_required(client: TestClient, org: Org) -> None:
    assert put(client, org, auth_token="").json()["code"] == "SMS_AUTH_TOKEN_REQUIRED"
    body = {k: v for k, v in BODY.items() if k != "auth_token"}
    answer = client.put(SMS_PROVIDER, json=body, headers=org.headers())
    assert answer.json()["code"] == "FIELD_REQUIRED"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.twilio.com",
        "api.twilio.com",
        "https://",
        "https://user:pw@api.twilio.com",
        "https://api.twilio.com?x=1",
        "https://api.twilio.com:99999",
        "",
    ],
)
def test_base_url_must_be_an_http_url(client: TestClient, org: Org, url: str) -> None:
    answer = put(client, org, base_url=url)
    assert answer.status_code == 422
    assert answer.json()["code"] == "SMS_BASE_URL_INVALID"


def test_unknown_body_field_is_refused(client: TestClient, org: Org) -> None:
    assert put(client, org, org_id=str(org.id)).json()["code"] == "FIELD_UNKNOWN"


@pytest.mark.parametrize("role", [Role.RECRUITER, Role.VIEWER])
def test_only_managers_change_the_sms_provider(client: TestClient, org: Org, role: Role) -> None:
    assert put(client, org, role).status_code == 403
    put(client, org, Role.TA_MANAGER)
    assert client.delete(SMS_PROVIDER, headers=org.headers(role)).status_code == 403
    assert get(client, org).status_code == 200


def test_another_orgs_configuration_is_invisible(
    client: TestClient, org: Org, other_org: Org, as_owner: psycopg.Connection
) -> None:
    theirs = put(client, other_org).json()
    assert get(client, org).json()["code"] == "SMS_PROVIDER_NOT_CONFIGURED"
    assert client.delete(SMS_PROVIDER, headers=org.headers()).status_code == 404
    assert put(client, org, account_sid="AC-mine").status_code == 201
    assert get(client, other_org).json() == theirs
    assert stored_token(as_owner, other_org) is not None


def test_the_send_loop_sends_with_the_stored_account(
    client: TestClient,
    org: Org,
    other_org: Org,
    settings: Settings,
    database_urls: DatabaseUrls,
    twilio: TwilioServer,
) -> None:
    put(client, org, base_url=twilio.url)
    secrets = SenderSecrets(settings.sender_secret_keys)
    account = account_of(database_urls, org.id, secrets)
    assert account == SmsAccount(twilio.url, ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER)

    async def send() -> SmsSent:
        async with sms_client(TargetGuard(allow_private=True)) as http:
            return await send_sms(account, OK_NUMBER, "Hello", http=http)

    sent = asyncio.run(send())
    assert sent.sid.startswith("SM")
    assert twilio.requests[-1]["form"]["To"] == OK_NUMBER
    assert account_of(database_urls, other_org.id, secrets) is None
