"""The public tracking routes: open pixel, click redirect, one-click unsubscribe.

No login here: each request carries a signed token that names the campaign contact (and, for
a click, its link). A token that does not verify records nothing, the pixel answers the same
either way, and a click goes only where its token says.
"""

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from outreach.dependencies import Sessionmaker
from outreach.events.writer import EventWriterDep
from outreach.kit.outage import RETRY_AFTER_SECONDS, is_unreachable, outage
from outreach.tracking import service
from outreach.tracking.pages import (
    UNSUBSCRIBE_DONE,
    UNSUBSCRIBE_LATER,
    UNSUBSCRIBE_UNKNOWN,
    unsubscribe_confirm,
)
from outreach.tracking.service import Hit
from outreach.tracking.tokens import Signer

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


@router.get(
    "/u/{token}",
    summary="Unsubscribe page: asks to confirm (a GET never unsubscribes)",
    response_class=HTMLResponse,
)
async def unsubscribe_page(token: str, request: Request, signer: Signer) -> HTMLResponse:
    """An HTML page with a button that posts the unsubscribe. Mail scanners follow links, so a GET
    changes nothing."""
    if not service.is_unsubscribe_token(signer, token):
        return HTMLResponse(UNSUBSCRIBE_UNKNOWN, status_code=404, headers=NO_STORE)
    return HTMLResponse(unsubscribe_confirm(request.url.path), headers=NO_STORE)


@router.post(
    "/u/{token}",
    summary="One-click unsubscribe (RFC 8058); repeating it is harmless",
    description="Recorded before it answers 200: once per contact, however often it is posted.",
    response_class=HTMLResponse,
    responses={
        404: {"description": "The token does not verify: nothing recorded"},
        503: {
            "description": "The database is unreachable: nothing recorded; try again after "
            "Retry-After (mail clients do)"
        },
    },
)
async def unsubscribe(
    token: str, request: Request, signer: Signer, sessionmaker: Sessionmaker
) -> HTMLResponse:
    try:
        recorded = await service.unsubscribe(signer, sessionmaker, hit(request), token)
    except (DBAPIError, PoolTimeout) as exc:
        if not is_unreachable(exc):
            raise
        outage.failed(exc)
        retry = {**NO_STORE, "Retry-After": str(RETRY_AFTER_SECONDS)}
        return HTMLResponse(UNSUBSCRIBE_LATER, status_code=503, headers=retry)
    if not recorded:
        return HTMLResponse(UNSUBSCRIBE_UNKNOWN, status_code=404, headers=NO_STORE)
    return HTMLResponse(UNSUBSCRIBE_DONE, headers=NO_STORE)
