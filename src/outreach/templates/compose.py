"""A message as it goes out: its template's text under a person's edits, filled in for a contact.

Approval previews and the sending engine compose messages here, so a person approves exactly
what will be sent.
"""

from dataclasses import astuple, dataclass, field

from outreach.templates.rendering import Personalization, find_tokens, render
from outreach.templates.sandbox import TemplateTimeExceeded, budget


@dataclass(frozen=True)
class MessageText:
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None

    def under(self, edits: "MessageText") -> "MessageText":
        """This text with `edits` in place wherever an edit is set."""
        own, edited = astuple(self), astuple(edits)
        return MessageText(*(e if e is not None else o for o, e in zip(own, edited, strict=True)))


def render_message(
    text: MessageText, personalization: Personalization, *, seconds: float
) -> tuple[MessageText, list[str]]:
    """The text filled in, and the tokens that had no value (they render as empty text). The
    parts share one budget: `seconds`, and the sandbox's limits on iterations and output.

    Raises `jinja2.TemplateError` when a part is not a valid template, breaks the sandbox or
    is over a limit (`sandbox.TemplateLimitExceeded`).
    """
    parts = [part for part in astuple(text) if part]
    tokens: set[str] = set().union(*(find_tokens(part) for part in parts))
    with budget(seconds):
        rendered = MessageText(
            subject=text.subject and render(text.subject, personalization),
            body_text=text.body_text and render(text.body_text, personalization),
            body_html=text.body_html and render(text.body_html, personalization, html=True),
        )
    return rendered, personalization.missing(tokens)


@dataclass
class Composer:
    """Renders many messages (a send batch, a page of approvals): a text that ran out of time
    once fails its other messages at once, so one slow template costs one time limit."""

    seconds: float
    _slow: dict[MessageText, TemplateTimeExceeded] = field(default_factory=dict)

    def render(
        self, text: MessageText, personalization: Personalization
    ) -> tuple[MessageText, list[str]]:
        if text in self._slow:
            raise self._slow[text]
        try:
            return render_message(text, personalization, seconds=self.seconds)
        except TemplateTimeExceeded as exc:
            self._slow[text] = exc
            raise
