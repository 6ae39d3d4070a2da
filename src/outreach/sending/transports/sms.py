"""SMS through an HTTP provider with Twilio's Messages API shape: one POST per message, and a
typed error that tells the send loop whether to retry (temporary) or give up (permanent)."""

from dataclasses import dataclass
from urllib.parse import quote

import httpx
from sqlalchemy import RowMapping

from outreach.kit.targets import TargetGuard, guarded_http_client
from outreach.sending.transports.base import Outcome, OutcomeKind, Transport
from outreach.sending.transports.messages import RenderFailed, personalization_of, render_content
from outreach.templates.compose import Composer, MessageText

SEND_TIMEOUT_SECONDS = 10.0
MESSAGE_MAX_LENGTH = 500  # of a provider's error text kept in the error


@dataclass(frozen=True)
class SmsAccount:
    """Where and as whom to send: an organization's provider account, its token decrypted."""

    base_url: str
    account_sid: str
    auth_token: str
    from_number: str

    def messages_url(self) -> str:
        # The SID is a path segment: quoted, so that no value can point the request elsewhere.
        sid = quote(self.account_sid, safe="")
        return f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"


@dataclass(frozen=True)
class SmsSent:
    sid: str = ""  # the provider's message id (Twilio: SM...)
    status: str = ""  # the provider's first status, usually queued or accepted


class SmsSendError(Exception):
    """The provider did not take the message.

    `permanent`: sending it again cannot work (an invalid or unreachable number, refused
    credentials: any 4xx but 429). Otherwise temporary (429, 5xx, connection failure,
    timeout): the same message may be tried again later.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        http_status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.permanent = permanent
        self.http_status = http_status  # None: no HTTP answer at all
        self.code = code  # the provider's own error code (Twilio: 21211, 21614, ...)
        self.retry_after = retry_after  # seconds, from a 429's or 503's Retry-After
        super().__init__(message)

    def __str__(self) -> str:
        kind = "permanent" if self.permanent else "temporary"
        status = f"HTTP {self.http_status}" if self.http_status is not None else "no answer"
        code = f", code {self.code}" if self.code is not None else ""
        return f"{kind} SMS failure ({status}{code}): {self.message}"


def sms_client(guard: TargetGuard, timeout: float = SEND_TIMEOUT_SECONDS) -> httpx.AsyncClient:
    """The HTTP client to send with: the provider's URL is a tenant's target, so it connects
    through the guard. A provider answers at once; redirects are not part of the API and are
    not followed."""
    return guarded_http_client(guard, timeout=timeout, follow_redirects=False)


async def send_sms(account: SmsAccount, to: str, body: str, *, http: httpx.AsyncClient) -> SmsSent:
    """Send one SMS over `http` (an `sms_client`, reused across messages); raises
    SmsSendError when the provider does not accept it."""
    try:
        answer = await http.post(
            account.messages_url(),
            data={"To": to, "From": account.from_number, "Body": body},
            auth=(account.account_sid, account.auth_token),
            headers={"Accept": "application/json"},
        )
    except httpx.TimeoutException as exc:
        raise SmsSendError(f"timed out: {type(exc).__name__}", permanent=False) from exc
    except httpx.TransportError as exc:
        raise SmsSendError(_text(str(exc)) or type(exc).__name__, permanent=False) from exc
    payload = _json(answer)
    if answer.is_success:
        sid = payload.get("sid")
        if isinstance(sid, str) and sid:
            status = payload.get("status")
            return SmsSent(sid=sid, status=status if isinstance(status, str) else "")
        # Accepted or not, nothing tells: trying again risks one duplicate, never a loss.
        raise SmsSendError(
            "the provider's answer has no message sid",
            permanent=False,
            http_status=answer.status_code,
        )
    code = payload.get("code")
    message = payload.get("message")
    status = answer.status_code
    raise SmsSendError(
        _text(message) if isinstance(message, str) else _text(answer.text) or answer.reason_phrase,
        permanent=400 <= status < 500 and status != 429,
        http_status=status,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        retry_after=_retry_after(answer),
    )


def _json(answer: httpx.Response) -> dict[str, object]:
    try:
        payload = answer.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _retry_after(answer: httpx.Response) -> float | None:
    value = answer.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None  # absent, or an HTTP date: the send loop's own back-off applies
    return seconds if seconds >= 0 else None


def _text(value: str) -> str:
    return " ".join(value.split())[:MESSAGE_MAX_LENGTH]


SMS_TIMEOUT_SECONDS = 10.0


class SmsTransport(Transport):
    """SMS through the organization's provider, over one HTTP client."""

    def __init__(self, guard: TargetGuard, account: SmsAccount) -> None:
        self.account = account
        self.http = sms_client(guard, SMS_TIMEOUT_SECONDS)

    def prepare(self, row: RowMapping, composer: Composer) -> str | RenderFailed:
        try:
            content = render_content(
                MessageText(None, row["body_text"], None),
                personalization_of(row, sender_name="", campaign_name=row["campaign_name"]),
                composer,
            )
        except RenderFailed as exc:
            return exc
        return content.body_text or ""

    async def finish(self, row: RowMapping, prepared: object) -> Outcome:
        if not row["phone"]:
            return Outcome(OutcomeKind.INVALID, "the contact has no phone number")
        if isinstance(prepared, RenderFailed):
            return Outcome(OutcomeKind.INVALID, str(prepared))
        assert isinstance(prepared, str)
        try:
            sent = await send_sms(self.account, row["phone"], prepared, http=self.http)
        except SmsSendError as exc:
            # Refused credentials are the account's problem, not the number's: retry later.
            permanent = exc.permanent and exc.http_status not in (401, 403)
            return Outcome(OutcomeKind.INVALID if permanent else OutcomeKind.SOFT, str(exc))
        return Outcome(OutcomeKind.SENT, sent.sid)

    async def close(self) -> None:
        await self.http.aclose()
