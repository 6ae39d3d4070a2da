"""The SMS client against a real Twilio-shaped HTTP server on loopback: what it sends, what it
returns, and how it classes each failure (permanent: give up; temporary: try again)."""

import asyncio
import socket
from collections.abc import Iterator

import pytest

from outreach.kit.targets import TargetGuard
from outreach.sending.transports.sms import SmsAccount, SmsSendError, SmsSent, send_sms, sms_client
from tests.sending.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FAILING_NUMBER,
    FROM_NUMBER,
    INVALID_NUMBER,
    NO_SID_NUMBER,
    NOT_MOBILE_NUMBER,
    OK_NUMBER,
    SLOW_NUMBER,
    THROTTLED_NUMBER,
    UNAVAILABLE_NUMBER,
    TwilioServer,
    twilio_server,
)


@pytest.fixture(scope="module")
def twilio() -> Iterator[TwilioServer]:
    with twilio_server() as server:
        yield server


def account(url: str, token: str = AUTH_TOKEN) -> SmsAccount:
    return SmsAccount(
        base_url=url, account_sid=ACCOUNT_SID, auth_token=token, from_number=FROM_NUMBER
    )


LOOPBACK_ALLOWED = TargetGuard(allow_private=True)


def send(url: str, to: str, token: str = AUTH_TOKEN) -> SmsSent:
    async def once() -> SmsSent:
        async with sms_client(LOOPBACK_ALLOWED) as http:
            return await send_sms(
                account(url, token), to, "Hi Ada, are you open to a new role?", http=http
            )

    return asyncio.run(once())


def failure(url: str, to: str, token: str = AUTH_TOKEN) -> SmsSendError:
    with pytest.raises(SmsSendError) as raised:
        send(url, to, token)
    return raised.value


def test_an_accepted_message_returns_the_providers_sid(twilio: TwilioServer) -> None:
    sent = send(twilio.url, OK_NUMBER)
    assert sent.sid.startswith("SM")
    assert sent.status == "queued"
    request = twilio.requests[-1]
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["content_type"].startswith("application/x-www-form-urlencoded")
    assert request["form"] == {
        "To": OK_NUMBER,
        "From": FROM_NUMBER,
        "Body": "Hi Ada, are you open to a new role?",
    }


def test_a_trailing_slash_on_the_base_url_is_harmless(twilio: TwilioServer) -> None:
    assert send(twilio.url + "/", OK_NUMBER).sid.startswith("SM")


def test_one_shared_http_client_sends_many_messages(twilio: TwilioServer) -> None:
    async def send_three() -> list[SmsSent]:
        async with sms_client(LOOPBACK_ALLOWED, timeout=5) as http:
            return [
                await send_sms(account(twilio.url), OK_NUMBER, f"message {n}", http=http)
                for n in range(3)
            ]

    sids = {sent.sid for sent in asyncio.run(send_three())}
    assert len(sids) == 3


@pytest.mark.parametrize(
    ("to", "code"),
    [(INVALID_NUMBER, 21211), (NOT_MOBILE_NUMBER, 21614)],
    ids=["invalid", "landline"],
)
def test_a_refused_number_is_a_permanent_failure_with_the_providers_code(
    twilio: TwilioServer, to: str, code: int
) -> None:
    error = failure(twilio.url, to)
    assert error.permanent is True
    assert (error.http_status, error.code) == (400, code)
    assert to in error.message
    assert f"code {code}" in str(error)


def test_refused_credentials_are_a_permanent_failure(twilio: TwilioServer) -> None:
    error = failure(twilio.url, OK_NUMBER, token="wrong-token")
    assert error.permanent is True
    assert (error.http_status, error.code, error.message) == (401, 20003, "Authenticate")


def test_throttling_is_a_temporary_failure_with_its_retry_after(twilio: TwilioServer) -> None:
    error = failure(twilio.url, THROTTLED_NUMBER)
    assert error.permanent is False
    assert (error.http_status, error.code, error.retry_after) == (429, 20429, 7.0)


def test_a_server_error_is_a_temporary_failure(twilio: TwilioServer) -> None:
    error = failure(twilio.url, FAILING_NUMBER)
    assert error.permanent is False
    assert (error.http_status, error.code) == (500, 20500)


def test_an_unavailable_provider_without_json_is_a_temporary_failure(
    twilio: TwilioServer,
) -> None:
    error = failure(twilio.url, UNAVAILABLE_NUMBER)
    assert error.permanent is False
    assert (error.http_status, error.code) == (503, None)
    assert "Service Unavailable" in error.message


def test_a_success_without_a_sid_is_a_temporary_failure(twilio: TwilioServer) -> None:
    error = failure(twilio.url, NO_SID_NUMBER)
    assert error.permanent is False
    assert error.http_status == 201


def test_a_refused_connection_is_a_temporary_failure() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}", OK_NUMBER)
    assert error.permanent is False
    assert error.http_status is None


def test_a_timeout_is_a_temporary_failure(twilio: TwilioServer) -> None:
    async def send_slowly() -> SmsSent:
        async with sms_client(LOOPBACK_ALLOWED, timeout=0.2) as http:
            return await send_sms(account(twilio.url), SLOW_NUMBER, "hello", http=http)

    with pytest.raises(SmsSendError) as raised:
        asyncio.run(send_slowly())
    assert raised.value.permanent is False
    assert "timed out" in raised.value.message


def test_the_account_sid_cannot_leave_its_path_segment(twilio: TwilioServer) -> None:
    wrong = SmsAccount(twilio.url, "../../other", AUTH_TOKEN, FROM_NUMBER)
    assert wrong.messages_url() == (
        f"{twilio.url}/2010-04-01/Accounts/..%2F..%2Fother/Messages.json"
    )
