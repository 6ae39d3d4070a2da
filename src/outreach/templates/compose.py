"""A message as it goes out: its template's text under a person's edits, filled in for a contact.

Approval previews and the sending engine compose messages here, so a person approves exactly
what will be sent.
"""

from dataclasses import astuple, dataclass

from outreach.templates.rendering import Personalization, render, tokens_of


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
    text: MessageText, personalization: Personalization
) -> tuple[MessageText, list[str]]:
    """The text filled in, and the tokens that had no value (they render as empty text).

    Raises `jinja2.TemplateError` when a part is not a valid template or breaks the sandbox.
    """
    parts = [part for part in astuple(text) if part]
    tokens: set[str] = set().union(*(tokens_of(part) for part in parts))
    rendered = MessageText(
        subject=text.subject and render(text.subject, personalization),
        body_text=text.body_text and render(text.body_text, personalization),
        body_html=text.body_html and render(text.body_html, personalization, html=True),
    )
    return rendered, personalization.missing(tokens)
