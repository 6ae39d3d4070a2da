"""The edge the send loop knows: a Transport per channel, and what became of a message."""

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import RowMapping

from outreach.templates.compose import Composer


class OutcomeKind(StrEnum):
    SENT = "sent"
    HARD = "hard"  # refused for good (a 5xx): a hard bounce
    SOFT = "soft"  # may work later: retried with backoff
    INVALID = "invalid"  # cannot be sent as it is (no phone number, a template error)


@dataclass(frozen=True)
class Outcome:
    """What became of one message."""

    kind: OutcomeKind
    detail: str
    message_id: str | None = None  # an email's Message-ID


class Transport:
    """How one lane of the send loop sends: `prepare` renders (no I/O, in a render thread),
    `start` opens what may be opened before the message's turn (an SMTP envelope), `finish`
    makes it accepted, `close` ends the lane."""

    def prepare(self, row: RowMapping, composer: Composer) -> object:
        """The message ready to send, or the RenderFailed that fails it."""
        return None

    def abandon(self) -> None:
        """After an unforeseen error: nothing of this message's state is reused."""

    async def start(self, row: RowMapping, prepared: object) -> Outcome | None:
        """None to go on, or the outcome when the message failed already."""
        return None

    async def finish(self, row: RowMapping, prepared: object) -> Outcome:
        raise NotImplementedError

    async def close(self) -> None:
        """Nothing to close by default."""


class Unsendable(Transport):
    """Every message fails the same temporary way (e.g. no relay configured)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def finish(self, row: RowMapping, prepared: object) -> Outcome:
        return Outcome(OutcomeKind.SOFT, self.reason)
