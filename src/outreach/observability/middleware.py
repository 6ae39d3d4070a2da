"""The outermost layer of the app: each request counted and timed by route template and status,
logged (the access log) and given its log context, the tracking fast path included.

The route is the template that matched (`/api/v1/campaigns/{campaign_id}`), read after the
request from the scope routing filled in; a path no route matches counts as `unmatched`, and a
method outside HTTP's usual ones as `other`: a client choosing paths or methods must not be
able to make new series.
"""

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.observability.logs import (
    ROUTE_PREFIXES,
    access_log_line,
    request_context,
    route_of,
)
from outreach.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# The open pixel and the click redirect: every sent message loads one, most links go through
# the other. They are left out of the access log: each hit is an event in the event log and
# counted in outreach_tracking_hits_total already, a line each would cost the pixel a quarter
# of its throughput (bench/observability.py), and their paths carry the contact's token.
TRACKING_HITS = ("/t/o/", "/t/c/")


def is_tracking_hit(scope: Scope) -> bool:
    return bool(scope["path"].startswith(TRACKING_HITS))


class RequestObservation:
    def __init__(
        self, app: ASGIApp, *, metrics: bool, access_log: bool, prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        # Where the app's routers are included, longest first (logs.route_of)
        self.prefixes = tuple(sorted(prefixes, key=len, reverse=True))
        self.metrics = metrics
        self.access_log = access_log
        # Label lookups take a lock each: the children, bounded like their labels, are kept.
        self._counted: dict[tuple[str, str, int], Counter] = {}
        self._timed: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[ROUTE_PREFIXES] = self.prefixes
        status = 500  # what the server answers when the app fails before starting its answer

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with request_context(scope):
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                seconds = time.perf_counter() - started
                if self.metrics:
                    self._observe(scope, status, seconds)
                if self.access_log and not is_tracking_hit(scope):
                    access_log_line(scope, status, seconds)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = route_of(scope) or UNMATCHED
        counted = self._counted.get((method, route, status))
        if counted is None:
            counted = self._counted[method, route, status] = HTTP_REQUESTS.labels(
                method, route, str(status)
            )
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed[method, route] = HTTP_DURATION.labels(method, route)
        counted.inc()
        timed.observe(seconds)
