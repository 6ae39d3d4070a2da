"""The public tracking routes: open pixel, click redirect, one-click unsubscribe and its undo.

No login here: each request carries a signed token that names the campaign contact (and, for
a click, its link). A token that does not verify records nothing, the pixel answers the same
either way, and a click goes only where its token says.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.dependencies import Sessionmaker
from outreach.events.writer import EventWriterDep
from outreach.kit.outage import RETRY_AFTER_SECONDS, is_unreachable, outage
from outreach.tracking import service
from outreach.tracking.pages import (
    UNSUBSCRIBE_LATER,
    UNSUBSCRIBE_UNKNOWN,
    resubscribed,
    unsubscribe_confirm,
    unsubscribed,
)
from outreach.tracking.service import Hit, LinkPage
from outreach.tracking.tokens import Signer, TrackingSigner

router = APIRouter(prefix="/t", tags=["tracking"])

# The smallest transparent GIF: 1x1, one transparent palette entry (43 bytes).
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0"}


def hit(request: Request) -> Hit:
    ip = request.client.host if request.client else None
    return Hit(ip, request.headers.get("user-agent"), request.method, request.scope["path"])


@router.get(
    "/o/{token}.gif",
    summary="Open pixel: a 43-byte transparent GIF, whatever the token",
    response_class=Response,
    responses={
        200: {
            "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The pixel",
        }
    },
)
async def open_pixel(
    token: str, request: Request, signer: Signer, writer: EventWriterDep
) -> Response:
    """Records an open (flagged when a mail privacy proxy made it) and answers the same GIF with
    `Cache-Control: no-store` for any token, valid or not."""
    service.record_open(signer, writer, hit(request), token)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/c/{token}",
    summary="Click: redirect to the link the token was signed for (HEAD too: scanners use it)",
    response_class=RedirectResponse,
    status_code=302,
    responses={404: {"description": "The token does not verify: no redirect"}},
)
async def follow_click(
    token: str, request: Request, signer: Signer, writer: EventWriterDep
) -> Response:
    """Records the click (flagged when a scanner made it) and answers `302` to the link the signed
    token names. A token that does not verify is `404` and never redirects."""
    url = service.record_click(signer, writer, hit(request), token)
    if url is None:
        return Response("Not found", status_code=404, media_type="text/plain", headers=NO_STORE)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


router.add_api_route("/c/{token}", follow_click, methods=["HEAD"], include_in_schema=False)


def _link(request: Request) -> str:
    """The link's own path, as the request reached it (behind a proxy's prefix too)."""
    return request.url.path.removesuffix("/resubscribe")


@router.get(
    "/u/{token}",
    summary="Unsubscribe page: names the organization and the address and asks to confirm (a "
    "GET never unsubscribes); a link already used offers to undo it",
    response_class=HTMLResponse,
)
async def unsubscribe_page(
    token: str, request: Request, signer: Signer, sessionmaker: Sessionmaker
) -> HTMLResponse:
    """An HTML page naming the organization and the address, with a button that posts the
    unsubscribe. Mail scanners follow links, so a GET changes nothing."""
    try:
        page = await service.link_page(signer, sessionmaker, token)
    except (DBAPIError, PoolTimeout) as exc:
        if not is_unreachable(exc):
            raise
        outage.failed(exc)
        # The page still asks, naming nobody: the one-click post answers 503 until it is back.
        if not service.is_unsubscribe_token(signer, token):
            return HTMLResponse(UNSUBSCRIBE_UNKNOWN, status_code=404, headers=NO_STORE)
        return HTMLResponse(unsubscribe_confirm(_link(request)), headers=NO_STORE)
    if page is None:
        return HTMLResponse(UNSUBSCRIBE_UNKNOWN, status_code=404, headers=NO_STORE)
    if page.unsubscribed:
        return HTMLResponse(unsubscribed(_link(request), page), headers=NO_STORE)
    return HTMLResponse(unsubscribe_confirm(_link(request), page), headers=NO_STORE)


_POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "The token does not verify: nothing recorded"},
    503: {
        "description": "The database is unreachable: nothing recorded; try again after "
        "Retry-After (mail clients do)"
    },
}


async def _decided(
    decide: Callable[
        [TrackingSigner, async_sessionmaker[AsyncSession], Hit, str], Awaitable[LinkPage | None]
    ],
    render: Callable[[str, LinkPage], str],
    token: str,
    request: Request,
    signer: TrackingSigner,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> HTMLResponse:
    """An unsubscribe or its undo, recorded before the page answers; 503 while the database
    is unreachable (nothing recorded: mail clients try again)."""
    try:
        page = await decide(signer, sessionmaker, hit(request), token)
    except (DBAPIError, PoolTimeout) as exc:
        if not is_unreachable(exc):
            raise
        outage.failed(exc)
        retry = {**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)}
        return HTMLResponse(UNSUBSCRIBE_LATER, status_code=503, headers=retry)
    if page is None:
        return HTMLResponse(UNSUBSCRIBE_UNKNOWN, status_code=404, headers=NO_STORE)
    return HTMLResponse(render(_link(request), page), headers=NO_STORE)


@router.post(
    "/u/{token}",
    summary="One-click unsubscribe (RFC 8058); repeating it is harmless",
    description="Recorded before it answers 200: once per contact, however often it is "
    "posted; again after an undo. The page offers to undo it.",
    response_class=HTMLResponse,
    responses=_POST_RESPONSES,
)
async def unsubscribe(
    token: str, request: Request, signer: Signer, sessionmaker: Sessionmaker
) -> HTMLResponse:
    return await _decided(service.unsubscribe, unsubscribed, token, request, signer, sessionmaker)


@router.post(
    "/u/{token}/resubscribe",
    summary="Undo the unsubscribe made with this link",
    description="Records a `resubscribed` event and takes the address off the do-not-contact "
    "list only if this link's unsubscribe put it there (not a complaint, a bounce, a person "
    "or another link). The contact's campaign stays stopped. Harmless to repeat.",
    response_class=HTMLResponse,
    responses=_POST_RESPONSES,
)
async def resubscribe(
    token: str, request: Request, signer: Signer, sessionmaker: Sessionmaker
) -> HTMLResponse:
    return await _decided(service.resubscribe, resubscribed, token, request, signer, sessionmaker)
