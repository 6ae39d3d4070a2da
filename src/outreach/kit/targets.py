"""Outbound connections on a tenant's behalf (SMTP hosts, SMS providers, later IMAP and
webhooks) go only where an explicit list of address blocks allows.

A host is resolved, and every address it resolves to is checked: link-local, cloud metadata,
unspecified, multicast and reserved addresses are refused always; loopback, private and shared
(CGNAT) ones too unless private targets are allowed (outside production, or by the operator).
IPv4 addresses written as IPv6 (mapped, 6to4, NAT64) are judged as the IPv4 address they carry.
The check runs when a host is saved and again at every connection, which then goes to the very
address that was checked, so a DNS answer that changes in between (rebinding) gains nothing.

Hand-written: the libraries that do this wrap `requests` or are a few months old, and SMTP
needs the same check as HTTP.
"""

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from outreach.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (as text); raises OSError when it does not resolve
Resolver = Callable[[str, int], Awaitable[list[str]]]

RESOLVE_TIMEOUT_SECONDS = 5.0

METADATA = "a cloud metadata address"
LINK_LOCAL = "a link-local address"
UNSPECIFIED = "an unspecified address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"
LOOPBACK = "a loopback address"
PRIVATE = "a private address"
SHARED = "a shared (CGNAT) address"

# Names of metadata services, refused whatever they resolve to (or before they resolve).
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)


def _blocks(
    why: str, *cidrs: str
) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
    return [(ipaddress.ip_network(cidr), why) for cidr in cidrs]


# First match wins: the metadata addresses lie inside blocks refused for another reason.
ALWAYS_REFUSED = [
    *_blocks(
        METADATA,
        "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2/32",  # AWS ECS task metadata
        "fd00:ec2::254/128",  # AWS over IPv6
        "100.100.100.200/32",  # Alibaba Cloud
        "168.63.129.16/32",  # Azure's host-internal platform endpoint
    ),
    *_blocks(LINK_LOCAL, "169.254.0.0/16", "fe80::/10"),
    *_blocks(UNSPECIFIED, "0.0.0.0/8", "::/128"),
    *_blocks(MULTICAST, "224.0.0.0/4", "ff00::/8"),
    *_blocks(
        RESERVED,
        "240.0.0.0/4",  # future use, and the broadcast address 255.255.255.255
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "198.51.100.0/24",
        "203.0.113.0/24",
        "2001:db8::/32",
        "100::/64",  # discard-only
        "2001::/32",  # Teredo: carries an IPv4 address it hides
    ),
]
PRIVATE_UNLESS_ALLOWED = [
    *_blocks(LOOPBACK, "127.0.0.0/8", "::1/128"),
    *_blocks(
        PRIVATE,
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking, also used by local proxies' fake DNS
        "fc00::/7",  # unique local
        "fec0::/10",  # site-local (deprecated)
        "64:ff9b:1::/48",  # local-use NAT64
    ),
    *_blocks(SHARED, "100.64.0.0/10"),
]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated; holds :: and ::1 too


class TargetError(Exception):
    """A host the service will not connect to (refused) or cannot (does not resolve)."""

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        super().__init__(message)


class TargetRefused(TargetError):
    def __init__(self, host: str, why: str, literal: bool) -> None:
        # Says what kind of address, never which one: a name's addresses stay unsaid.
        shown = f"{host} is {why}" if literal else f"{host} resolves to {why}"
        super().__init__(host, f"{shown}, which outbound connections may not reach")
        self.why = why


class TargetUnresolved(TargetError):
    def __init__(self, host: str) -> None:
        super().__init__(host, f"{host} does not resolve")


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why the address is refused, or None when it is allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_ipv4(address)
        if carried is not None:
            return refusal(carried, allow_private=allow_private)
    for block, why in ALWAYS_REFUSED:
        if address in block:
            return why
    if not allow_private:
        for block, why in PRIVATE_UNLESS_ALLOWED:
            if address in block:
                return why
    return None


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped (::ffff:a.b.c.d), 6to4 (2002::/16),
    NAT64 (64:ff9b::/96), IPv4-compatible (::a.b.c.d)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def resolve_with_system(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(sockaddr[0]) for *_, sockaddr in answers]


@dataclass(frozen=True)
class TargetGuard:
    """Where outbound connections on a tenant's behalf may go. `resolve` is the DNS lookup
    (the system's; tests give their own to play a DNS that changes its answers)."""

    allow_private: bool
    resolve: Resolver = field(default=resolve_with_system)

    @classmethod
    def for_settings(cls, settings: Settings) -> "TargetGuard":
        return cls(allow_private=settings.env != "production" or settings.allow_private_targets)

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address `host` resolves to, each one allowed. Raises TargetRefused when any
        is refused, TargetUnresolved when the name gives none."""
        name = host.strip().rstrip(".").lower()
        if name in METADATA_NAMES:
            raise TargetRefused(host, "a cloud metadata host", literal=True)
        literal = _literal(name)
        found = [literal] if literal is not None else await self._resolve(host, name, port)
        if not found:
            raise TargetUnresolved(host)
        for address in found:
            why = refusal(address, allow_private=self.allow_private)
            if why is not None:
                raise TargetRefused(host, why, literal=literal is not None)
        return list(dict.fromkeys(found))

    async def _resolve(self, host: str, name: str, port: int) -> list[IPAddress]:
        try:
            answers = await self.resolve(name, port)
        except (OSError, TimeoutError, UnicodeError):
            raise TargetUnresolved(host) from None
        found = [_literal(answer) for answer in answers]
        return [address for address in found if address is not None]

    async def check(self, host: str, port: int) -> None:
        """The check when a host is saved: raises TargetRefused for what is refused now. A name
        that does not resolve (yet) passes: every connection checks it again."""
        with contextlib.suppress(TargetUnresolved):
            await self.addresses(host, port)

    async def connect(self, host: str, port: int) -> socket.socket:
        """A connected, non-blocking socket to an allowed address of `host` (tried in turn)."""
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        for address in await self.addresses(host, port):
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (str(address), port))
            except OSError as exc:
                sock.close()
                failure = exc
            except BaseException:
                sock.close()
                raise
            else:
                return sock
        assert failure is not None  # addresses is never empty
        raise failure


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """HTTP through the guard: each request's host is resolved and checked, and the request
    goes to the checked address; TLS still verifies the certificate for the host name (SNI).
    One connection pool per origin, so a connection is never shared by two host names."""

    def __init__(self, guard: TargetGuard) -> None:
        self.guard = guard
        self._pools: dict[tuple[str, str, int], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = await self.guard.addresses(url.host, port)
        except TargetError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        pool = self._pools.get((url.scheme, url.host, port))
        if pool is None:
            pool = self._pools[(url.scheme, url.host, port)] = httpx.AsyncHTTPTransport()
        failure: httpx.ConnectError | None = None
        for address in addresses:
            pinned = httpx.Request(
                request.method,
                url.copy_with(host=str(address)),
                headers=request.headers,  # Host: the name, as the request was made
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": url.host},
            )
            try:
                return await pool.handle_async_request(pinned)
            except httpx.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


def guarded_http_client(guard: TargetGuard, **options: Any) -> httpx.AsyncClient:
    """An HTTP client that connects only where the guard allows (no environment proxies:
    the guard decides, not HTTPS_PROXY)."""
    return httpx.AsyncClient(transport=GuardedTransport(guard), **options)


def target_guard(request: Request) -> TargetGuard:
    guard: TargetGuard = request.app.state.target_guard
    return guard


OutboundGuard = Annotated[TargetGuard, Depends(target_guard)]
