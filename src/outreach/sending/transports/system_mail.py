"""Mail the service sends on its own behalf (owner summaries), through its relay
(OUTREACH_SMTP_URL) or the embedded mail catcher."""

import uuid
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from outreach.config import Settings
from outreach.kit.text import control_character
from outreach.sending.transports.catcher import catcher_headers
from outreach.sending.transports.smtp import SmtpNotConfigured, parse_smtp_url


def build_system_mail(
    settings: Settings, *, org_id: uuid.UUID, to: str, subject: str, text: str, html: str
) -> EmailMessage:
    """Raises ValueError when the values cannot make a message (a stored address that is no
    address, a header with a line break): the same values will not make one later either."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = _recipient(to)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = settings.mail_from.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    for name, value in catcher_headers(settings, org_id):
        message[name] = value
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _recipient(to: str) -> Address:
    # The stored text may come from anywhere (an identity provider's claim, an old row).
    character = control_character(to)
    if character is not None:
        raise ValueError(f"{to!r} is not an email address: it holds {character}")
    try:
        return Address(addr_spec=to)
    except (ValueError, MessageError) as exc:
        raise ValueError(f"{to!r} is not an email address: {exc}") from exc


async def send_system_mail(settings: Settings, message: EmailMessage) -> str:
    """Send a message built by `build_system_mail`; answers its Message-ID. Raises
    SmtpNotConfigured when no relay is configured, aiosmtplib's errors when sending fails."""
    if not settings.smtp_url:
        raise SmtpNotConfigured("OUTREACH_SMTP_URL is not set and no mail catcher runs")
    server = parse_smtp_url(settings.smtp_url)
    async with server.client() as client:
        if server.username:
            await client.login(server.username, server.password or "")
        await client.send_message(message)
    return str(message["Message-ID"])
