"""Request bodies of bounded size: one over the limit is refused with 413 PAYLOAD_TOO_LARGE
before the app parses it: at once by its Content-Length, else (chunked) as soon as the bytes
received pass the limit. Nothing is buffered here.

The limit is per path: the default, and patterns whose routes take more or less. A route that
takes more (the CSV imports, `POST .../contacts/import`) adds its path pattern to the table
given to the middleware in `outreach.main`, with its own limit.

Not FastAPI's own `max_body_size`: over a declared Content-Length it replaces whatever the app
answers with a plain-text 413, where every error here is problem+json with its code.
"""

import re
from collections.abc import Mapping

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.kit.problems import problem_response

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(HTTPException):
    """Raised while the app reads the body: FastAPI lets an HTTPException through its body
    parsing, to the problem handlers (413 is PAYLOAD_TOO_LARGE there)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"At most {limit} bytes per request.")


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit: int, per_path: Mapping[str, int] = {}) -> None:
        self.app = app
        self.limit = limit
        self.per_path = [(re.compile(pattern), size) for pattern, size in per_path.items()]

    def _limit_for(self, path: str) -> int:
        return next(
            (size for pattern, size in self.per_path if pattern.fullmatch(path)), self.limit
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            request_id = scope.get("state", {}).get("request_id")
            error = BodyTooLarge(limit)
            response = problem_response(
                413,
                PAYLOAD_TOO_LARGE,
                "Request body too large",
                error.detail,
                request_id=request_id,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)
