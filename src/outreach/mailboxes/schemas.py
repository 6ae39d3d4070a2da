"""Mailbox bodies and answers. The password or OAuth2 token is write-only: the sender's
`mailbox` (sending/senders/schemas.py `MailboxOut`) says only which kind it holds."""

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from outreach.kit.text import OneLine
from outreach.sending.senders.schemas import SmtpPort, SmtpTls, SmtpUsername, host_check

ImapHost = Annotated[str, AfterValidator(host_check("MAILBOX", "IMAP host"))]
# Both go into the IMAP dialogue (LOGIN's line, XOAUTH2's string): a line break would end it.
ImapPassword = Annotated[str, Field(min_length=1, max_length=1000), OneLine]
# Microsoft's access tokens run to a few kilobytes.
OAuth2Token = Annotated[str, Field(min_length=1, max_length=10_000), OneLine]


class MailboxIn(BaseModel):
    """A sender's IMAP mailbox, read (never changed) for replies, auto-replies and bounces."""

    model_config = ConfigDict(extra="forbid")

    imap_host: ImapHost = Field(
        description="Host name or IP. Link-local and cloud metadata addresses are refused "
        "(TARGET_NOT_ALLOWED), and in production loopback, private and CGNAT ones unless the "
        "operator allows them"
    )
    imap_port: SmtpPort = 993
    imap_tls: SmtpTls = Field("tls", description="`tls` is implicit TLS (usually port 993)")
    imap_username: SmtpUsername = Field(None, description="Default: the sender's from_email")
    imap_password: ImapPassword | None = Field(
        None, description="Write-only (LOGIN): stored encrypted, never returned"
    )
    oauth2_token: OAuth2Token | None = Field(
        None,
        description="Write-only: an OAuth2 access token, sent with SASL XOAUTH2 (Google "
        "Workspace, Microsoft 365); stored encrypted, never returned",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if self.imap_password is not None and self.oauth2_token is not None:
            raise PydanticCustomError(
                "MAILBOX_SECRET_CONFLICT", "Give imap_password or oauth2_token, not both"
            )
        if self.imap_password is None and self.oauth2_token is None:
            raise PydanticCustomError(
                "MAILBOX_SECRET_REQUIRED", "Give imap_password or oauth2_token"
            )
        return self


class MailboxTestOut(BaseModel):
    ok: bool = Field(description="It connected, logged in and opened INBOX")
    stage: Literal["connect", "login", "select", "done"] = Field(
        description="How far it got: where it stopped, or `done`"
    )
    detail: str = Field(description="What the server said, or why it stopped")
