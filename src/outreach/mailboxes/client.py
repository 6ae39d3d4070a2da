"""IMAP over aioimaplib, read-only: a guarded connection to a sender's mailbox, its INBOX
examined (never selected: nothing is marked read, moved or deleted), new messages by UID, and
IDLE where the server offers it.

A mailbox's server is a tenant's target: the connection goes through the target guard (the
host checked at every connection, the socket opened to the checked address), as SMTP's does.
aioimaplib has no STARTTLS and no way to hand it a socket: both are added here.
"""

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal

import aioimaplib
from aioimaplib.aioimaplib import SELECTED, Command, IMAP4ClientProtocol, Response

from outreach.kit.targets import TargetError, TargetGuard, TargetRefused

TIMEOUT_SECONDS = 20.0  # every step: connecting, TLS, each command
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a larger message is skipped, never downloaded
TlsMode = Literal["none", "starttls", "tls"]
AuthKind = Literal["password", "oauth2"]
Stage = Literal["connect", "login", "select", "done"]


@dataclass(frozen=True)
class MailboxSettings:
    """What it takes to read a mailbox: the server, its TLS mode, and who logs in with what
    (`secret`: the password for `password`, the OAuth2 access token for `oauth2`, in clear)."""

    host: str
    port: int
    tls: TlsMode
    username: str
    auth: AuthKind
    secret: str

    def __repr__(self) -> str:  # never the secret, not even in a traceback
        return f"MailboxSettings({self.username}@{self.host}:{self.port}, tls={self.tls})"


class MailboxError(Exception):
    """The mailbox could not be read; the message says why in clear words and what to do.
    `stage` is the step that failed: connect (the host, the port, TLS, the guard), login,
    select (INBOX), or done (a command of the sync after INBOX was open)."""

    def __init__(self, stage: Stage, message: str) -> None:
        super().__init__(message)
        self.stage = stage


@dataclass(frozen=True)
class MailboxCheck:
    """How far a test of the mailbox got: `stage` is where it stopped (connect, login,
    select) or `done` when it connected, logged in and opened INBOX; `detail` says why."""

    ok: bool
    stage: Stage
    detail: str


@dataclass(frozen=True)
class Fetched:
    """One message of a fetch: its bytes, or why they were not taken (`skipped`)."""

    uid: int
    raw: bytes | None
    skipped: str | None = None


class _GuardedIMAP(aioimaplib.IMAP4):  # type: ignore[misc]  # untyped library
    """aioimaplib's client, connected to an address the guard allows, over a socket opened to
    that very address; the host name still goes to TLS (SNI and the certificate check)."""

    def __init__(
        self, guard: TargetGuard, host: str, port: int, tls: ssl.SSLContext | None
    ) -> None:
        self._guard = guard
        super().__init__(host=host, port=port, timeout=TIMEOUT_SECONDS, ssl_context=tls)

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        running = loop or asyncio.get_running_loop()
        self.protocol = IMAP4ClientProtocol(running, conn_lost_cb)
        self._client_task = running.create_task(self._connect(running, host, port, ssl_context))

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, tls: ssl.SSLContext | None
    ) -> Any:
        sock = await self._guard.connect(host, port)
        try:
            return await loop.create_connection(
                lambda: self.protocol,
                sock=sock,
                ssl=tls,
                server_hostname=host if tls else None,
                ssl_handshake_timeout=TIMEOUT_SECONDS if tls else None,
            )
        except BaseException:
            sock.close()
            raise


class MailboxConnection:
    """A logged-in connection with INBOX examined (read-only)."""

    def __init__(self, client: _GuardedIMAP, uid_validity: int, uid_next: int | None) -> None:
        self._client = client
        self.uid_validity = uid_validity
        self.uid_next = uid_next

    @property
    def can_idle(self) -> bool:
        return bool(self._client.has_capability("IDLE"))

    async def uids_after(self, last_uid: int) -> list[int]:
        """The UIDs of INBOX above `last_uid`, ascending."""
        response = await self._command(
            self._client.uid_search(f"UID {last_uid + 1}:*", charset=None)
        )
        if response.result != "OK":
            raise MailboxError("done", f"the server refused to search INBOX: {_said(response)}")
        found: list[int] = []
        for line in response.lines[:-1]:  # the last is the command's completion
            # aioimaplib takes the untagged "SEARCH" off the line, or leaves it (a server's
            # SEARCH answer split over lines)
            found += [int(uid) for uid in bytes(line).split() if uid.isdigit()]
        # "n:*" always matches the last message, even when its UID is below n
        return sorted(uid for uid in set(found) if uid > last_uid)

    async def fetch(self, uids: list[int], max_bytes: int = MAX_MESSAGE_BYTES) -> list[Fetched]:
        """The messages with these UIDs, by UID (BODY.PEEK: their \\Seen flag is left alone);
        one larger than `max_bytes` is skipped with the reason, one gone meanwhile left out."""
        if not uids:
            return []
        sizes = _fetched(await self._uid_fetch(uids, "(UID RFC822.SIZE)"))
        wanted = [uid for uid in uids if uid in sizes and _size(sizes[uid]) <= max_bytes]
        bodies = _fetched(await self._uid_fetch(wanted, "(UID BODY.PEEK[])")) if wanted else {}
        fetched = []
        for uid in uids:
            if uid not in sizes:
                continue
            if _size(sizes[uid]) > max_bytes:
                reason = f"larger than {max_bytes // (1024 * 1024)} MB ({_size(sizes[uid])} bytes)"
                fetched.append(Fetched(uid, None, reason))
            elif uid in bodies and bodies[uid].literal is not None:
                fetched.append(Fetched(uid, bodies[uid].literal))
        return fetched

    async def wait_for_new(self, seconds: float) -> bool:
        """IDLE for up to `seconds` (the server must offer it): answers whether the server
        announced a new message meanwhile."""
        idle = await self._command(self._client.idle_start(timeout=seconds))
        try:
            while True:
                pushed = await self._client.wait_server_push(timeout=seconds + TIMEOUT_SECONDS)
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return False
                if any(bytes(line).endswith(b"EXISTS") for line in pushed):
                    return True
        except TimeoutError:
            return False
        finally:
            if self._client.has_pending_idle():
                self._client.idle_done()
            with suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(idle, TIMEOUT_SECONDS)

    async def _uid_fetch(self, uids: list[int], parts: str) -> Response:
        response = await self._command(self._client.uid("fetch", _uid_set(uids), parts))
        if response.result != "OK":
            raise MailboxError("done", f"the server refused to fetch messages: {_said(response)}")
        return response

    async def _command(self, pending: Any) -> Any:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):
                return await pending
        except (TimeoutError, aioimaplib.Abort, OSError) as exc:
            raise MailboxError("done", f"the IMAP server stopped answering: {_why(exc)}") from exc

    async def close(self) -> None:
        with suppress(Exception):
            async with asyncio.timeout(5):
                await self._client.logout()
        transport = self._client.protocol.transport
        if transport is not None:
            transport.close()


@asynccontextmanager
async def connect(
    settings: MailboxSettings, guard: TargetGuard, tls: ssl.SSLContext | None = None
) -> AsyncIterator[MailboxConnection]:
    """A connection to the mailbox, logged in, INBOX examined; closed on leaving. Raises
    MailboxError with its stage and the reason in clear words. `tls`: the TLS context (by
    default the system's trusted certificates)."""
    context = (tls or ssl.create_default_context()) if settings.tls != "none" else None
    client = _GuardedIMAP(
        guard, settings.host, settings.port, context if settings.tls == "tls" else None
    )
    try:
        await _greeted(client, settings)
        if settings.tls == "starttls":
            assert context is not None
            await _starttls(client, settings, context)
        await _login(client, settings)
        connection = await _examine(client)
    except BaseException:
        _abort(client)
        raise
    try:
        yield connection
    finally:
        await connection.close()


async def check(
    settings: MailboxSettings, guard: TargetGuard, tls: ssl.SSLContext | None = None
) -> MailboxCheck:
    """Connect, log in and open INBOX read-only, then log out: how far it got, and why it
    stopped there (wrong password, host unreachable, TLS failure, target refused), for
    `POST /senders/{id}/mailbox/test`. Each step has its timeout (20 s); nothing raises."""
    try:
        async with connect(settings, guard, tls) as connection:
            validity = connection.uid_validity
    except MailboxError as exc:
        return MailboxCheck(ok=False, stage=exc.stage, detail=str(exc))
    return MailboxCheck(
        ok=True,
        stage="done",
        detail=f"logged in to {settings.host}:{settings.port} as {settings.username} and "
        f"opened INBOX (UIDVALIDITY {validity})",
    )


async def _greeted(client: _GuardedIMAP, settings: MailboxSettings) -> None:
    where = f"{settings.host}:{settings.port}"
    try:
        await client.wait_hello_from_server()
    except TargetRefused as exc:
        raise MailboxError("connect", f"Target refused: {exc}. Use a public IMAP host.") from exc
    except TargetError as exc:  # does not resolve
        raise MailboxError(
            "connect", f"Host unreachable: {exc}. Check the IMAP host name."
        ) from exc
    except ssl.SSLError as exc:
        raise MailboxError(
            "connect",
            f"TLS failed with {where}: {_why(exc)}. Check the TLS mode (tls for port 993, "
            "starttls or none for 143) and the server's certificate.",
        ) from exc
    except TimeoutError as exc:
        raise MailboxError(
            "connect",
            f"Host unreachable: no IMAP server answered at {where} within "
            f"{TIMEOUT_SECONDS:.0f} s. Check the host, the port and the TLS mode.",
        ) from exc
    except (OSError, aioimaplib.Error, aioimaplib.Abort) as exc:
        raise MailboxError(
            "connect",
            f"Host unreachable: {where} ({_why(exc)}). Check the host, the port and the TLS mode.",
        ) from exc


async def _starttls(
    client: _GuardedIMAP, settings: MailboxSettings, context: ssl.SSLContext
) -> None:
    protocol = client.protocol
    if not client.has_capability("STARTTLS"):
        raise MailboxError(
            "connect",
            f"TLS failed: {settings.host}:{settings.port} does not offer STARTTLS. Use tls "
            "(usually port 993) instead.",
        )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            response = await protocol.execute(
                Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
            )
            if response.result != "OK":
                raise MailboxError("connect", f"TLS failed: STARTTLS refused: {_said(response)}")
            loop = asyncio.get_running_loop()
            protocol.transport = await loop.start_tls(
                protocol.transport, protocol, context, server_hostname=settings.host
            )
            await protocol.capability()  # what the server offers may change under TLS
    except MailboxError:
        raise
    except (ssl.SSLError, TimeoutError, OSError, aioimaplib.Abort) as exc:
        raise MailboxError(
            "connect",
            f"TLS failed with {settings.host}:{settings.port}: {_why(exc)}. Check the TLS mode "
            "and the server's certificate.",
        ) from exc


async def _login(client: _GuardedIMAP, settings: MailboxSettings) -> None:
    try:
        if settings.auth == "oauth2":
            if not client.has_capability("AUTH=XOAUTH2"):
                raise MailboxError(
                    "login",
                    f"Login refused: {settings.host} does not offer OAuth2 (XOAUTH2). Use a "
                    "password (an app password) instead.",
                )
            response = await client.xoauth2(settings.username, settings.secret)
        else:
            response = await client.login(settings.username, settings.secret)
    except MailboxError:
        raise
    except (TimeoutError, OSError, aioimaplib.Abort) as exc:
        raise MailboxError("login", f"Login failed: {_why(exc)}. Try again later.") from exc
    if response.result == "OK":
        return
    if settings.auth == "oauth2":
        raise MailboxError(
            "login",
            f"Login refused for {settings.username}: the OAuth2 access token was not accepted "
            f"(expired or without IMAP access; the server said: {_said(response)}). Give a new "
            "access token.",
        )
    raise MailboxError(
        "login",
        f"Login refused for {settings.username}: wrong user name or password (the server "
        f"said: {_said(response)}). Check them; Gmail and Microsoft 365 want an app password "
        "or OAuth2.",
    )


async def _examine(client: _GuardedIMAP) -> MailboxConnection:
    try:
        response = await client.examine("INBOX")
    except (TimeoutError, OSError, aioimaplib.Abort) as exc:
        raise MailboxError("select", f"Could not open INBOX: {_why(exc)}.") from exc
    if response.result != "OK":
        raise MailboxError("select", f"Could not open INBOX: {_said(response)}.")
    # aioimaplib knows SELECT only; EXAMINE opens the mailbox the same way, read-only
    client.protocol.state = SELECTED
    validity = uid_next = None
    for line in response.lines:
        text = bytes(line)
        if found := re.search(rb"\[UIDVALIDITY (\d+)\]", text):
            validity = int(found.group(1))
        if found := re.search(rb"\[UIDNEXT (\d+)\]", text):
            uid_next = int(found.group(1))
    if validity is None:
        raise MailboxError("select", "Could not open INBOX: the server gave no UIDVALIDITY.")
    return MailboxConnection(client, validity, uid_next)


def _abort(client: _GuardedIMAP) -> None:
    if not client._client_task.done():
        client._client_task.cancel()
    transport = client.protocol.transport
    if transport is not None:
        transport.close()


@dataclass
class _Item:
    size: str | None = None
    literal: bytes | None = None


_FETCH_LINE = re.compile(rb"^\d+ FETCH \((.*)$", re.DOTALL)
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def _fetched(response: Response) -> dict[int, _Item]:
    """A UID FETCH's items by UID: aioimaplib gives the lines of each message's answer, its
    literal (bytearray) after the line announcing it; the UID may come before or after it."""
    items: dict[int, _Item] = {}
    current: _Item | None = None
    pending_uid = False
    for line in response.lines:
        if isinstance(line, bytearray):
            if current is not None:
                current.literal = bytes(line)
            continue
        header = _FETCH_LINE.match(line)
        text = header.group(1) if header else line
        if header:
            current, pending_uid = _Item(), True
        if current is None:
            continue
        if size := _SIZE.search(text):
            current.size = size.group(1).decode()
        if pending_uid and (uid := _UID.search(text)):
            items[int(uid.group(1))] = current
            pending_uid = False
    return items


def _size(item: _Item) -> int:
    return int(item.size) if item.size is not None else 0


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _said(response: Response) -> str:
    last = response.lines[-1] if response.lines else b""
    return bytes(last).decode(errors="replace").strip()[:300] or response.result


def _why(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:300]
