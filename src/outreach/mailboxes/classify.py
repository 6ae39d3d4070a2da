"""What one message in a sender's mailbox is: a person's reply, an automatic reply (with the
return date it states), a bounce, or nothing we record. Pure: no database, no network.

Bounces are recognised first, so a delivery report is never taken for a reply or an auto-reply.
"""

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.errors import MessageError
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any

import flufl.bounce
from dateparser.search import search_dates
from mailparser_reply import EmailReplyParser

from outreach.inbound.autoreply import AUTO_REPLY_HEADERS, is_auto_reply
from outreach.inbound.events import REPLY_TEXT_MAX_CHARS, BounceType, short_reason

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# Every text scan reads at most this much of the body, whatever the message's size.
BODY_MAX_CHARS = 100_000
REPLY_SCAN_CHARS = 32_000
RETURN_DATE_SCAN_CHARS = 4_096
# An unsubscribe request is a short note; a long message that mentions the word discusses it.
UNSUBSCRIBE_MAX_CHARS = 500
MAX_REFERENCES = 100
# A return date further away than this is a misreading (a phone number, a year), not a holiday.
RETURN_DATE_HORIZON = timedelta(days=366)


class MessageTooLarge(ValueError):
    """The raw message is larger than we read; the message says how large."""


@dataclass(frozen=True)
class Reply:
    """A person's answer: their new text, without the quoted history and signature."""

    text: str
    # They ask, in words, to be removed from the list.
    unsubscribe: bool


@dataclass(frozen=True)
class AutoReply:
    return_date: date | None


@dataclass(frozen=True)
class Bounce:
    recipient: str | None
    bounce_type: BounceType
    status: str | None
    diagnostic: str | None
    original_message_id: str | None


Classified = Reply | AutoReply | Bounce | None


@dataclass(frozen=True)
class MessageIds:
    """Message-IDs as our outbox stores them, angle brackets included: `<id@domain>`."""

    message_id: str | None
    in_reply_to: str | None
    # Oldest first, newest last, as the header lists them.
    references: list[str]


def parse(raw: bytes) -> EmailMessage:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"the message is {len(raw)} bytes; messages over {MAX_MESSAGE_BYTES} bytes are not read"
        )
    return BytesParser(policy=default_policy).parsebytes(raw)


def classify(message: EmailMessage, *, today: date | None = None) -> Classified:
    """`today` (default: today in UTC) is the day a stated return date must come after."""
    if _is_from_mail_system(message):
        return _bounce(message)
    ids = message_ids(message)
    if ids.in_reply_to is None and ("List-Unsubscribe" in message or "List-Id" in message):
        return None  # a newsletter or a list's message, answering nothing of ours
    if is_auto_reply(_auto_reply_headers(message), _header(message, "Subject")):
        return AutoReply(return_date(_body_text(message), today=today or datetime.now(UTC).date()))
    if ids.in_reply_to or ids.references or _ANSWER_SUBJECT.match(_header(message, "Subject")):
        text = reply_text(message)
        return Reply(text=text, unsubscribe=asks_to_unsubscribe(text))
    return None


def message_ids(message: Message) -> MessageIds:
    references = _MESSAGE_ID.findall(_header(message, "References"))
    return MessageIds(
        message_id=_one_message_id(_header(message, "Message-ID")),
        in_reply_to=_one_message_id(_header(message, "In-Reply-To")),
        references=references[-MAX_REFERENCES:],
    )


def sender_address(message: Message) -> str | None:
    for _name, address in getaddresses([_header(message, "From")]):
        if "@" in address:
            return address.strip().lower()
    return None


# Headers ------------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_BARE_MESSAGE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")
_ANSWER_SUBJECT = re.compile(r"^\s*(?:re|aw|antw|sv|vs|r|rif|res|ref)\s*:", re.IGNORECASE)


def _header(message: Message, name: str) -> str:
    """A header's decoded value, unfolded; "" when absent. One the parser cannot decode is
    read as it was sent, rather than failing the whole message."""
    try:
        value = message.get(name)
    except (ValueError, LookupError, MessageError):
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), None)
    return " ".join(str(value).split()) if value is not None else ""


def _one_message_id(value: str) -> str | None:
    found = _MESSAGE_ID.search(value) or _BARE_MESSAGE_ID.fullmatch(value.strip())
    if found is None:
        return None
    return found.group() if found.group().startswith("<") else f"<{found.group()}>"


def _auto_reply_headers(message: Message) -> dict[str, str]:
    return {name: _header(message, name) for name in AUTO_REPLY_HEADERS if name in message}


# Bounces ------------------------------------------------------------------------------------

_MAIL_SYSTEM_SENDER = re.compile(
    r"^(?:mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|postmaster)@", re.IGNORECASE
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery status notification|returned mail|mail delivery (?:failed|failure)"
    r"|delivery (?:failure|has failed|failed)|failure notice|nicht zustellbar|unzustellbar"
    r"|non remis|non distribuable",
    re.IGNORECASE,
)
_STATUS_CODE = re.compile(r"(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?!\.?\d)")
_QUOTED_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_RETURNED_MESSAGE = {"message/rfc822", "message/global"}
_RETURNED_HEADERS = {"text/rfc822-headers", "message/global-headers"}
_STATUS_REPORTS = {"message/delivery-status", "message/global-delivery-status"}
MAX_STATUS_BLOCKS = 100


def _is_delivery_report(message: Message) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def _is_from_mail_system(message: Message) -> bool:
    if _is_delivery_report(message):
        return True
    if _MAIL_SYSTEM_SENDER.match(sender_address(message) or ""):
        return True
    automatic = is_auto_reply(_auto_reply_headers(message), None)
    # RFC 5321 sends bounces with a null return path; so do RFC 3834 auto-replies, which say so.
    if _header(message, "Return-Path") == "<>" and not automatic:
        return True
    return automatic and bool(_BOUNCE_SUBJECT.search(_header(message, "Subject")))


def _bounce(message: EmailMessage) -> Bounce | None:
    """None for a report that is no failure (delivered, relayed) or one nothing can be read of."""
    original_message_id = _original_message_id(message)
    failure = _failed_recipient_block(message)
    if failure is not None:
        status_match = _STATUS_CODE.search(_header(failure, "Status"))
        status = status_match.group() if status_match else None
        delayed = _header(failure, "Action").lower().startswith("delayed")
        return Bounce(
            recipient=_report_address(failure),
            bounce_type=_bounce_type(status, temporary=delayed),
            status=status,
            diagnostic=short_reason(_diagnostic(_header(failure, "Diagnostic-Code"))),
            original_message_id=original_message_id,
        )
    temporary, permanent = _flufl_failures(message)
    text = _body_text(message)
    status_match = _STATUS_CODE.search(text)
    status = status_match.group() if status_match else None
    recipients = sorted(permanent) or sorted(temporary)
    if not recipients and status is None:
        return None
    line = next((line for line in text.splitlines() if status and status in line), None)
    return Bounce(
        recipient=recipients[0] if recipients else None,
        bounce_type=_bounce_type(status, temporary=not permanent and bool(temporary)),
        status=status,
        diagnostic=short_reason(line),
        original_message_id=original_message_id or _quoted_message_id(text),
    )


def _bounce_type(status: str | None, *, temporary: bool) -> BounceType:
    if status is not None:
        return "soft" if status.startswith("4") else "hard"
    return "soft" if temporary else "hard"


def _failed_recipient_block(message: Message) -> Message | None:
    """RFC 3464: the first per-recipient block that failed, else the first delayed one."""
    if not _is_delivery_report(message):
        return None
    blocks = [block for part in message.walk() for block in _status_blocks(part)]
    actions = [(_header(block, "Action").lower(), block) for block in blocks[:MAX_STATUS_BLOCKS]]
    # opensmtpd writes the non-standard "error" for "failed".
    failed = [block for action, block in actions if action.startswith(("failed", "error"))]
    delayed = [block for action, block in actions if action.startswith("delayed")]
    chosen = failed or delayed
    return chosen[0] if chosen else None


def _status_blocks(part: Message) -> list[Message]:
    if part.get_content_type() not in _STATUS_REPORTS:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # A report the parser left as text: its blocks are header blocks between blank lines.
    text = _part_text(part)
    return [HeaderParser().parsestr(block) for block in re.split(r"\n\s*\n", text) if block]


def _report_address(block: Message) -> str | None:
    for name in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
        # "rfc822; someone@example.com": the address type, then the address.
        address = _header(block, name).rpartition(";")[2].strip().strip("<>").lower()
        if "@" in address:
            return address
    return None


def _diagnostic(value: str) -> str:
    # "smtp; 550 5.1.1 ...": the diagnostic type says nothing to a reader.
    kind, separator, rest = value.partition(";")
    return rest if separator and kind.strip().lower() in {"smtp", "x-unix", "x-postfix"} else value


def _flufl_failures(message: Message) -> tuple[list[str], list[str]]:
    """flufl.bounce's detectors read the non-standard formats (Exim, qmail, old Exchange...)."""
    try:
        temporary, permanent = flufl.bounce.all_failures(message)
    except Exception:  # its heuristics on a malformed message must not fail the message
        logger.exception("flufl.bounce could not read a bounce")
        return [], []
    return _decoded(temporary), _decoded(permanent)


def _decoded(addresses: Any) -> list[str]:
    return [address.decode("ascii", "replace").lower() for address in addresses]


def _original_message_id(message: Message) -> str | None:
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in _RETURNED_MESSAGE:
            payload = part.get_payload()
            returned = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(returned, Message):
                return _one_message_id(_header(returned, "Message-ID"))
        if content_type in _RETURNED_HEADERS:
            headers = HeaderParser().parsestr(_part_text(part))
            return _one_message_id(_header(headers, "Message-ID"))
    return None


def _quoted_message_id(text: str) -> str | None:
    found = _QUOTED_MESSAGE_ID.search(text)
    return found.group(1) if found else None


# Bodies -------------------------------------------------------------------------------------


def _body_text(message: EmailMessage) -> str:
    """The text/plain body, else the HTML one as text; bounded."""
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, Message):
        return ""
    text = _part_text(part)[:BODY_MAX_CHARS]
    if part.get_content_type() == "text/html":
        return _html_text(text)
    return text.replace("\r\n", "\n")


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, MessageError):
        # An unknown charset or a broken transfer encoding: read what can be read.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


class _HtmlText(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "table", "hr", "h1", "h2", "h3", "h4", "h5", "h6"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A blockquote holds the quoted history: the person's new text is never inside one.
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.pieces.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Replies ------------------------------------------------------------------------------------

# mail-parser-reply knows no Portuguese; English is always added by the library.
_REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]
_FALLBACK_LINES = 5


def reply_text(message: EmailMessage) -> str:
    """The person's new text: no quoted history, no signature. When the parser leaves nothing,
    the first lines of the body, then the subject: a reply is never stored without text."""
    body = _body_text(message)[:REPLY_SCAN_CHARS]
    replies = EmailReplyParser(languages=_REPLY_LANGUAGES).read(body).replies
    # A first fragment with a header is already the quoted history: the new text was empty.
    newest = replies[0].body if replies and not replies[0].headers else ""
    text = _unquoted(newest)
    if not text:
        lines = [line for line in _unquoted(body).splitlines() if line.strip()]
        text = "\n".join(lines[:_FALLBACK_LINES])
    return (text or _header(message, "Subject"))[:REPLY_TEXT_MAX_CHARS]


def _unquoted(text: str) -> str:
    return "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith(">")
    ).strip()


_UNSUBSCRIBE = re.compile(
    r"\b(?:unsubscribe|remove me|take me off|opt me out"
    r"|stop (?:e-?mailing|contacting|writing to|sending)"
    r"|(?:do not|don't|never) (?:contact|e-?mail|write to) me"
    r"|d[ée]sinscri\w*|d[ée]sabonn\w*|ne plus (?:me )?(?:recevoir|contacter|[ée]crire)"
    r"|retirez[- ]moi|supprimez[- ]moi|rayez[- ]moi"
    r"|abmelden|austragen|keine (?:weiteren )?(?:e-?mails|nachrichten)"
    r"|nicht mehr (?:kontaktieren|anschreiben))",
    re.IGNORECASE,
)
# A negation just before the request, in the same sentence: "I don't want to unsubscribe".
_NEGATION = re.compile(
    r"\b(?:not|no|never|don't|doesn't|won't|without|pas|jamais|nicht|kein\w*)\b|n't\b",
    re.IGNORECASE,
)
_NEGATION_REACH = 40


def asks_to_unsubscribe(text: str) -> bool:
    """Whether a person's new text (not the quoted history, where our own footer says
    "unsubscribe") asks in words to be removed."""
    if len(text) > UNSUBSCRIBE_MAX_CHARS:
        return False
    for request in _UNSUBSCRIBE.finditer(text):
        before = re.split(r"[.!?\n]", text[: request.start()])[-1][-_NEGATION_REACH:]
        if not _NEGATION.search(before):
            return True
    return False


# Return dates -------------------------------------------------------------------------------

# Words that announce a return (or the last day away), per dateparser language.
_RETURN_WORDS = {
    "en": r"back|return\w*|until|till|through|available|resume|away from",
    "fr": r"retour|jusqu['’]au|[àa] partir du|d[èe]s le|reprendrai|disponible|absente?",
    "de": r"ab|bis|zur[üu]ck|wieder|erreichbar|abwesend",
    "es": r"hasta|regres\w*|volver\w*|vuelta|a partir del|disponible|ausente",
    "it": r"fino al|rientr\w*|ritorno|di nuovo|dal|a partire dal|disponibile|assente",
    "nl": r"tot|terug|vanaf|weer|afwezig",
    "pt": r"at[ée]|volt\w*|regress\w*|retorno|a partir de|de volta|ausente",
}
_RETURN_PATTERNS = {
    language: re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)
    for language, words in _RETURN_WORDS.items()
}
# A sentence ends at a line break or at . ! ? not preceded by a digit ("4. Dezember" goes on).
_SENTENCE_END = re.compile(r"\n|(?<=[^\d\s][.!?])\s+")
_DOTTED_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})?(?![\d])")
_SENTENCE_MAX_CHARS = 300
_MAX_SENTENCES = 20


def return_date(text: str, *, today: date) -> date | None:
    """The latest future date stated in the sentences that announce a return, if any."""
    sentences = [s for s in _SENTENCE_END.split(text[:RETURN_DATE_SCAN_CHARS]) if s.strip()]
    found: list[date] = []
    for sentence in sentences[:_MAX_SENTENCES]:
        sentence = _DOTTED_DATE.sub(lambda match: _iso_date(match, today), sentence)
        sentence = sentence[:_SENTENCE_MAX_CHARS]
        for language, pattern in _RETURN_PATTERNS.items():
            if pattern.search(sentence):
                found.extend(_dates_in(sentence, language, today))
    future = [day for day in found if today < day <= today + RETURN_DATE_HORIZON]
    return max(future, default=None)


def _iso_date(match: re.Match[str], today: date) -> str:
    """A dotted date (always day first) written as ISO, which dateparser reads in any language;
    without a year, its next occurrence."""
    day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
    try:
        stated = date(int(year) if year else today.year, month, day)
        if not year and stated <= today:
            stated = stated.replace(year=today.year + 1)
    except ValueError:
        return match.group()
    return stated.isoformat()


def _dates_in(sentence: str, language: str, today: date) -> list[date]:
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": datetime.combine(today, datetime.min.time()),
        # Slashed dates: month first in English (12/07/2026), day first elsewhere.
        "DATE_ORDER": "MDY" if language == "en" else "DMY",
    }
    matches = search_dates(sentence, languages=[language], settings=settings) or []
    return [moment.date() for words, moment in matches if _looks_like_a_date(words)]


def _looks_like_a_date(words: str) -> bool:
    """dateparser also reads short words as dates ("je", "di", "now", "+33"): a date names a
    day with a digit and a word or a separator, or is a word such as a weekday or month."""
    if re.search(r"\d", words):
        return bool(re.search(r"[^\W\d_]{3,}|\d[./-]\d", words))
    return len(words.strip()) >= 5
