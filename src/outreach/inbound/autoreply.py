"""Tells an automatic reply (out of office, vacation notice) from a person's reply."""

import re
import unicodedata
from collections.abc import Mapping

_PRECEDENCE_AUTOMATIC = {"auto_reply", "bulk", "junk"}
# Exchange marks its own out-of-office replies with "All", which includes OOF and AutoReply.
_SUPPRESS_AUTOMATIC = {"oof", "autoreply", "all"}
_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|sv|fw|fwd|wg)\s*:\s*)*"
    r"(?:out\s+of\s+(?:the\s+)?office|automatic\s+reply|auto[\s-]?reply|auto[\s-]?response"
    r"|abwesenheitsnotiz|r[ée]ponse\s+automatique|respuesta\s+autom[áa]tica)",
    re.IGNORECASE,
)


def is_auto_reply(headers: Mapping[str, str], subject: str | None) -> bool:
    lowered = {name.strip().lower(): value.strip() for name, value in headers.items()}
    # RFC 3834: anything but "no" (parameters after ";" do not change the keyword).
    auto_submitted = lowered.get("auto-submitted")
    if auto_submitted and auto_submitted.split(";")[0].strip().lower() != "no":
        return True
    if "x-autoreply" in lowered or "x-autorespond" in lowered:
        return True
    if lowered.get("precedence", "").lower() in _PRECEDENCE_AUTOMATIC:
        return True
    suppress = lowered.get("x-auto-response-suppress", "")
    if {token.strip().lower() for token in suppress.split(",")} & _SUPPRESS_AUTOMATIC:
        return True
    return bool(subject and _SUBJECT.match(unicodedata.normalize("NFC", subject)))
