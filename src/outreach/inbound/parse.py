"""Parses an inbound request body by its provider name into normalized events."""

from collections.abc import Callable

from outreach.inbound import generic, postmark, ses
from outreach.inbound.events import InboundFormatError, ParsedInbound

__all__ = ["PROVIDERS", "InboundFormatError", "ParsedInbound", "parse"]

PROVIDERS: dict[str, Callable[[bytes], ParsedInbound]] = {
    ses.PROVIDER: ses.parse,
    postmark.PROVIDER: postmark.parse,
    generic.PROVIDER: generic.parse,
}


def parse(provider: str, body: bytes) -> ParsedInbound:
    """Raises InboundFormatError for anything malformed; a well-formed record of a type we do
    not record is no error: it is listed in `ParsedInbound.ignored`."""
    parser = PROVIDERS.get(provider)
    if parser is None:
        known = ", ".join(sorted(PROVIDERS))
        raise InboundFormatError(f"unknown provider {provider!r}; expected one of: {known}")
    return parser(body)
