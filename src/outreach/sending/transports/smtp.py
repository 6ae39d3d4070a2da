"""SMTP with aiosmtplib: where a sender's mail goes, the connection check, and the client.

A sender's own server is a tenant's target: its client connects through the target guard (the
host checked again at every connection, the socket opened to the checked address). The
service's own relay is the operator's, and is not guarded.
"""

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from outreach.config import Settings
from outreach.kit.targets import TargetError, TargetGuard, TargetRefused
from outreach.models import Sender
from outreach.sending.secrets import SenderSecrets

CHECK_TIMEOUT_SECONDS = 10.0
SEND_TIMEOUT_SECONDS = 30.0
TLS_MODES = ("none", "starttls", "tls")


class SmtpNotConfigured(Exception):
    """A system sender, and the service has no relay (OUTREACH_SMTP_URL unset)."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: str  # none, starttls, tls
    username: str | None = None
    password: str | None = None
    guard: TargetGuard | None = None  # None: the service's own relay

    def client(self, timeout: float = SEND_TIMEOUT_SECONDS) -> aiosmtplib.SMTP:
        options: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "use_tls": self.tls == "tls",
            "start_tls": self.tls == "starttls",
            "timeout": timeout,
        }
        if self.guard is None:
            return aiosmtplib.SMTP(**options)
        return _GuardedSMTP(self.guard, **options)


class TargetNotAllowed(aiosmtplib.SMTPConnectError):
    """The guard refused the server's host when connecting."""


class _GuardedSMTP(aiosmtplib.SMTP):
    """Connects to an address the guard allows at that moment, over a socket opened to that
    very address; the host name still goes to TLS (SNI and the certificate check)."""

    def __init__(self, guard: TargetGuard, *, hostname: str, port: int, **options: Any) -> None:
        super().__init__(hostname=hostname, port=port, **options)
        self._guard, self._target = guard, (hostname, port)

    async def connect(self, *args: Any, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        host, port = self._target
        try:
            async with asyncio.timeout(self.timeout):
                sock = await self._guard.connect(host, port)
        except TargetRefused as exc:
            raise TargetNotAllowed(str(exc)) from exc
        except TimeoutError as exc:
            raise aiosmtplib.SMTPConnectTimeoutError(
                f"Timed out connecting to {host} on port {port}"
            ) from exc
        except (OSError, TargetError) as exc:  # refused, unreachable, or no such host
            raise aiosmtplib.SMTPConnectError(
                f"Error connecting to {host} on port {port}: {exc}"
            ) from exc
        try:
            # aiosmtplib takes either a socket or a port; the host name stays for TLS.
            return await super().connect(*args, **kwargs, sock=sock, port=None)
        except BaseException:
            sock.close()
            raise


def parse_smtp_url(url: str) -> SmtpServer:
    """smtp://user:password@host:port?tls=starttls (tls defaults to none, port to 25)."""
    parts = urlsplit(url)
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError(f"not an smtp:// URL with a host: {url!r}")
    tls = parse_qs(parts.query).get("tls", ["none"])[0]
    if tls not in TLS_MODES:
        raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or 25,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def smtp_server_for(
    sender: Sender, secrets: SenderSecrets, settings: Settings, guard: TargetGuard | None = None
) -> SmtpServer:
    """The server a sender's mail goes to: its own (through `guard`, by default the settings'),
    or the service's relay for a system sender."""
    if sender.transport == "system":
        if not settings.smtp_url:
            raise SmtpNotConfigured("OUTREACH_SMTP_URL is not set and no mail catcher runs")
        return parse_smtp_url(settings.smtp_url)
    # a database constraint: an smtp sender has all three
    assert sender.smtp_host is not None
    assert sender.smtp_port is not None
    assert sender.smtp_tls is not None
    password = (
        secrets.decrypt(sender.smtp_password_encrypted) if sender.smtp_password_encrypted else None
    )
    return SmtpServer(
        sender.smtp_host,
        sender.smtp_port,
        sender.smtp_tls,
        sender.smtp_username,
        password,
        guard or TargetGuard.for_settings(settings),
    )


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    stage: str  # how far it got: connect, login, done
    detail: str


async def check_connection(
    server: SmtpServer,
    timeout: float = CHECK_TIMEOUT_SECONDS,  # noqa: ASYNC109 - each SMTP step's, not a deadline
) -> ConnectionCheck:
    """Connect, STARTTLS when configured, log in when there is a username, say goodbye.

    Until the server has greeted, every failure (refused, silent, timed out, TLS, not SMTP)
    answers the same, so the check cannot tell what listens on a port: it is no port scanner.
    Once an SMTP server has answered, its answers are told.
    """
    client = server.client(timeout=timeout)
    try:
        await client.connect(start_tls=False)
    except TargetNotAllowed as exc:
        return ConnectionCheck(ok=False, stage="connect", detail=str(exc))
    except (TimeoutError, aiosmtplib.SMTPException, OSError):
        return ConnectionCheck(
            ok=False,
            stage="connect",
            detail=f"No SMTP server answered at {server.host}:{server.port}",
        )
    stage = "connect"
    try:
        if server.tls == "starttls":
            await client.starttls()
        if server.username:
            stage = "login"
            await client.login(server.username, server.password or "")
        await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        client.close()
        return ConnectionCheck(ok=False, stage=stage, detail=str(exc)[:500] or type(exc).__name__)
    return ConnectionCheck(
        ok=True, stage="done", detail=f"{server.host}:{server.port} accepted the connection"
    )


async def send_one(server: SmtpServer, mail_from: str, recipient: str, message: bytes) -> str:
    """One message over a connection of its own (logged in when there is a username); the
    server's answer. Raises aiosmtplib.SMTPException (a refusal, with the server's code and
    words), OSError or TimeoutError when it was not accepted."""
    client = server.client()
    await client.connect()
    try:
        if server.username:
            await client.login(server.username, server.password or "")
        await client.mail(mail_from)
        await client.rcpt(recipient)
        response = await client.data(message)
    except BaseException:
        client.close()
        raise
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        client.close()
    return response.message


def failure_text(exc: Exception) -> str:
    """What a failed SMTP exchange said: the server's code and words when it answered."""
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}".strip()
    return str(exc)[:500] or type(exc).__name__
