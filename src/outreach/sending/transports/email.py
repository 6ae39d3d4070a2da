"""Email as a Transport: MIME built in a render thread, sent over one SMTP connection."""

import logging

import aiosmtplib
from sqlalchemy import RowMapping

from outreach.config import Settings
from outreach.models import Sender
from outreach.sending.outbox.queue import message_id_for
from outreach.sending.transports.base import Outcome, OutcomeKind, Transport
from outreach.sending.transports.catcher import catcher_headers
from outreach.sending.transports.messages import (
    Envelope,
    Recipient,
    RenderFailed,
    TrackedLinks,
    build_email,
    personalization_of,
    render_content,
    wire_bytes,
)
from outreach.sending.transports.smtp import SmtpServer, failure_text
from outreach.templates.compose import Composer, MessageText
from outreach.tracking.tokens import TrackingSigner

log = logging.getLogger(__name__)


def _recipient(row: RowMapping) -> Recipient:
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p) or None
    return Recipient(
        org_id=row["org_id"],
        campaign_id=row["campaign_id"],
        campaign_contact_id=row["campaign_contact_id"],
        email=row["email"],
        name=name,
    )


def _envelope(settings: Settings, sender: Sender, row: RowMapping) -> Envelope:
    reply_to = (
        f"reply+{row['campaign_contact_id']}@{settings.reply_domain}"
        if settings.reply_domain
        else None
    )
    return Envelope(
        from_email=sender.from_email,
        from_name=sender.from_name,
        message_id=message_id_for(row["id"], sender.from_email),
        reply_to=reply_to,
        extra_headers=tuple(catcher_headers(settings, row["org_id"])),
    )


class EmailTransport(Transport):
    """Email over one SMTP connection, opened on first use, reopened after an error."""

    def __init__(
        self, settings: Settings, signer: TrackingSigner, sender: Sender, server: SmtpServer
    ) -> None:
        self.settings, self.signer, self.sender, self.server = settings, signer, sender, server
        self.client: aiosmtplib.SMTP | None = None

    def prepare(self, row: RowMapping, composer: Composer) -> bytes | RenderFailed:
        sender = self.sender
        try:
            content = render_content(
                MessageText(row["subject"], row["body_text"], row["body_html"]),
                personalization_of(
                    row,
                    sender_name=sender.from_name or sender.from_email,
                    campaign_name=row["campaign_name"],
                ),
                composer,
            )
            recipient = _recipient(row)
            links = TrackedLinks(self.signer, self.settings.links_base_url, recipient)
            return wire_bytes(
                build_email(_envelope(self.settings, sender, row), recipient, content, links)
            )
        except RenderFailed as exc:
            return exc
        except Exception as exc:  # any other failure to build it fails this message alone
            log.exception("building message %s failed", row["id"])
            return RenderFailed(f"could not be built: {type(exc).__name__}: {exc}")

    async def start(self, row: RowMapping, prepared: object) -> Outcome | None:
        message_id = message_id_for(row["id"], self.sender.from_email)
        if isinstance(prepared, RenderFailed):
            return Outcome(OutcomeKind.INVALID, str(prepared), message_id)
        try:
            client = await self._open()
            await client.mail(self.sender.from_email)
            await client.rcpt(row["email"])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return self._failed(exc, message_id)
        return None

    async def finish(self, row: RowMapping, prepared: object) -> Outcome:
        message_id = message_id_for(row["id"], self.sender.from_email)
        assert isinstance(prepared, bytes)
        assert self.client is not None  # start opened it
        try:
            response = await self.client.data(prepared)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return self._failed(exc, message_id)
        return Outcome(OutcomeKind.SENT, response.message, message_id)

    def _failed(self, exc: Exception, message_id: str) -> Outcome:
        self._reset()
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            kind = OutcomeKind.HARD if exc.code >= 500 else OutcomeKind.SOFT
            return Outcome(kind, failure_text(exc), message_id)
        return Outcome(
            OutcomeKind.SOFT, f"connection failed: {exc or type(exc).__name__}", message_id
        )

    async def _open(self) -> aiosmtplib.SMTP:
        if self.client is None:
            client = self.server.client()
            await client.connect()
            if self.server.username:
                await client.login(self.server.username, self.server.password or "")
            self.client = client
        return self.client

    def _reset(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def abandon(self) -> None:
        self._reset()

    async def close(self) -> None:
        if self.client is not None:
            try:
                await self.client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self.client.close()
            self.client = None
