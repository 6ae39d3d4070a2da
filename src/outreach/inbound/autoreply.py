"""Tells an automatic reply (out of office, vacation notice) from a person's reply."""

import re
import unicodedata
from collections.abc import Mapping

# The headers `is_auto_reply` reads, for callers that pick them out of a whole message.
AUTO_REPLY_HEADERS = (
    "Auto-Submitted",
    "X-Autoreply",
    "X-Autorespond",
    "Precedence",
    "X-Auto-Response-Suppress",
)
_PRECEDENCE_AUTOMATIC = {"auto_reply", "bulk", "junk"}
# Exchange marks its own out-of-office replies with "All", which includes OOF and AutoReply.
_SUPPRESS_AUTOMATIC = {"oof", "autoreply", "all"}
# Out-of-office subjects as Outlook, Exchange, Gmail and others write them, in English,
# German, French, Spanish, Italian, Dutch and Portuguese, after any reply or forward prefixes.
_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|antw|sv|vs|r|rif|res|fw|fwd|wg|tr|doorst)\s*:\s*)*"
    r"(?:out\s+of\s+(?:the\s+)?office|automatic\s+reply|auto[\s-]?reply|auto[\s-]?response"
    r"|abwesenheitsnotiz|automatische\s+antwort|abwesend|nicht\s+im\s+b[üu]ro"
    r"|r[ée]ponse\s+automatique|message\s+d['’]absence|absent(?:e)?\s+du\s+bureau"
    r"|respuesta\s+autom[áa]tica|fuera\s+de\s+(?:la\s+)?oficina"
    r"|risposta\s+automatica|fuori\s+(?:ufficio|sede)"
    r"|automatisch\s+antwoord|afwezig|niet\s+(?:aanwezig|op\s+kantoor)"
    r"|resposta\s+autom[áa]tica|fora\s+do\s+escrit[óo]rio|ausente\s+do\s+escrit[óo]rio)",
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
