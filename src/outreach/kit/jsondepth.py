"""JSON nesting depth, bounded before any parser sees the text: the stdlib's decoder recurses
(100,000 nested arrays are a RecursionError) and pydantic gives up serializing a few hundred
levels down, so a deeper body is refused first, with its own code, while it streams in.

The gauge follows the text in pieces without parsing it: strings (and the escapes in them) are
skipped, every other bracket counts. Malformed JSON is left to the parser to refuse.
"""

import re
from email.message import Message as HeaderValue

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 64
JSON_TOO_DEEP = "JSON_TOO_DEEP"

_SPECIAL = re.compile(rb'[\\"\[\]{}]')
_BACKSLASH, _QUOTE = ord("\\"), ord('"')
_OPEN = frozenset(b"[{")


class JsonTooDeep(HTTPException):
    """A JSON text nests arrays and objects deeper than the limit."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(422, f"JSON nested deeper than {limit} levels")


class DepthGauge:
    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        self.limit = limit
        self._depth = 0
        self._in_string = False
        self._escaped = False  # the previous piece ended on a backslash inside a string

    def feed(self, piece: bytes) -> None:
        """Raises JsonTooDeep as soon as the text so far nests deeper than the limit."""
        skip = 0 if self._escaped else -1
        self._escaped = False
        for match in _SPECIAL.finditer(piece):
            at = match.start()
            if at == skip:
                continue
            char = piece[at]
            if self._in_string:
                if char == _BACKSLASH:
                    skip = at + 1
                    self._escaped = skip == len(piece)
                elif char == _QUOTE:
                    self._in_string = False
            elif char == _QUOTE:
                self._in_string = True
            elif char in _OPEN:
                self._depth += 1
                if self._depth > self.limit:
                    raise JsonTooDeep(self.limit)
            else:
                self._depth -= 1


def check_depth(text: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    DepthGauge(limit).feed(text)


def _is_json(scope: Scope) -> bool:
    content_type = Headers(scope=scope).get("content-type")
    if content_type is None:
        return False
    parsed = HeaderValue()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JsonDepthLimit:
    """Gauges every JSON request body (the content types FastAPI parses as JSON) as it is
    received: the route's parser never gets a body nested deeper than MAX_JSON_DEPTH."""

    def __init__(self, app: ASGIApp, limit: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        gauge = DepthGauge(self.limit)

        async def gauged() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                # An HTTPException passes FastAPI's body reading untouched, to its handler.
                gauge.feed(message.get("body", b""))
            return message

        await self.app(scope, gauged, send)
