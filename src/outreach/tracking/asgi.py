"""The open pixel and the click redirect, answered ahead of the API's middleware and of
FastAPI's routing and dependency machinery.

Every sent message loads its pixel and every link goes through a click: these two routes take
most of the service's traffic, and need nothing the stack in front of them gives (no auth, no
body, no validation beyond the token, which is checked in memory). Their endpoints are the
routes of tracking/router.py, called directly, so the answers and the OpenAPI document stay
the routes' own. Anything else, other methods included, goes on to the app.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from outreach.tracking.router import click, open_pixel

Endpoint = Callable[[str, Request], Awaitable[Response]]


def _endpoint(method: str, path: str) -> tuple[Endpoint, str] | None:
    """The endpoint and token of a pixel or click request, as the routes would match them."""
    if path.startswith("/t/o/") and path.endswith(".gif") and method == "GET":
        endpoint, token = open_pixel, path[5:-4]
    elif path.startswith("/t/c/") and method in ("GET", "HEAD"):
        endpoint, token = click, path[5:]
    else:
        return None
    if not token or "/" in token:  # the route's {token} is one non-empty path segment
        return None
    return endpoint, token


class TrackingFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/t/"):
            found = _endpoint(scope["method"], scope["path"])
            if found is not None:
                endpoint, token = found
                response = await endpoint(token, Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
