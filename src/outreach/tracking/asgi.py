"""The open pixel and the click redirect, answered ahead of the app's middleware (request ids,
error pages, FastAPI's own) and of FastAPI's routing and dependency machinery.

Every sent message loads its pixel and every link goes through a click: these two routes take
most of the service's traffic and need nothing of that stack (no auth, no body, nothing to log;
the token is checked in memory), which cost them half their throughput. Their endpoints are the
routes of tracking/router.py, called directly, so the answers and the OpenAPI document stay the
routes' own, less the X-Request-ID header. Anything else, other methods included, goes on to
the app.
"""

from collections.abc import Awaitable, Callable

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from outreach.events.writer import EventWriter, get_event_writer
from outreach.tracking.router import follow_click, open_pixel, router
from outreach.tracking.tokens import TrackingSigner, get_tracking_signer

Endpoint = Callable[[str, Request, TrackingSigner, EventWriter], Awaitable[Response]]
# The routes the fast path stands in for, put in the scope as routing would (metrics and logs
# read the route template there).
_ROUTES = {
    (route.endpoint, method): route
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods or ()
}


def _endpoint(method: str, path: str) -> tuple[Endpoint, str] | None:
    """The endpoint and token of a pixel or click request, as the routes would match them."""
    if path.startswith("/t/o/") and path.endswith(".gif") and method == "GET":
        endpoint, token = open_pixel, path[5:-4]
    elif path.startswith("/t/c/") and method in ("GET", "HEAD"):
        endpoint, token = follow_click, path[5:]
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
                scope["route"] = _ROUTES[endpoint, scope["method"]]
                request = Request(scope, receive)
                # What FastAPI would inject, from the same dependencies
                signer, writer = await get_tracking_signer(request), await get_event_writer(request)
                response = await endpoint(token, request, signer, writer)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
