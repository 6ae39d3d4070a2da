"""SMTP with aiosmtplib: where a sender's mail goes, the connection check, and the client."""

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from outreach.config import Settings
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

    def client(self, timeout: float = SEND_TIMEOUT_SECONDS) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            timeout=timeout,
        )


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


def smtp_server_for(sender: Sender, secrets: SenderSecrets, settings: Settings) -> SmtpServer:
    """The server a sender's mail goes to: its own, or the service's relay for a system sender."""
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
        sender.smtp_host, sender.smtp_port, sender.smtp_tls, sender.smtp_username, password
    )


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    stage: str  # how far it got: connect, login, done
    detail: str


async def check_connection(server: SmtpServer) -> ConnectionCheck:
    """Connect (TLS or STARTTLS as configured), log in when there is a username, say goodbye."""
    client = server.client(timeout=CHECK_TIMEOUT_SECONDS)
    stage = "connect"
    try:
        await client.connect()
        if server.username:
            stage = "login"
            await client.login(server.username, server.password or "")
        await client.quit()
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        return ConnectionCheck(ok=False, stage=stage, detail=str(exc)[:500] or type(exc).__name__)
    return ConnectionCheck(
        ok=True, stage="done", detail=f"{server.host}:{server.port} accepted the connection"
    )
