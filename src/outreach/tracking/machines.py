"""Tells machine opens and clicks (privacy proxies, link scanners, bots) from human ones."""

import re
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

# Security gateways follow every link seconds after delivery; no reader is that fast.
SCANNER_WINDOW_SECONDS = 10.0

# Apple Mail Privacy Protection loads every remote image ahead of the reader, through iCloud
# Private Relay (wordtothewise.com/2021/09/apple-mpp-reporting-and-geolocation). These are the
# covering blocks of Apple's egress list (mask-api.icloud.com/egress-ip-ranges.csv); a few other
# users of those blocks are flagged too, so the human figure errs low, never high.
APPLE_PROXY_NETWORKS: tuple[IPv4Network | IPv6Network, ...] = tuple(
    ip_network(cidr)
    for cidr in (
        "17.0.0.0/8",  # Apple's own network (AS714)
        "104.28.0.0/16",  # Private Relay egress, Cloudflare
        "140.248.0.0/18",  # Private Relay egress, Fastly
        "146.75.128.0/17",  # Private Relay egress, Fastly
        "172.224.0.0/14",  # Private Relay egress, Akamai
        "2606:54c0::/30",  # Private Relay egress, Cloudflare
        "2a09:bac2::/31",  # Private Relay egress, Cloudflare
        "2a02:26f7::/32",  # Private Relay egress, Akamai
        "2a04:4e41::/32",  # Private Relay egress, Fastly
    )
)
# Apple's proxy sends this bare token and nothing else; no mail client or browser does.
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"

# Microsoft's mail filtering (Exchange Online Protection, Defender Safe Links) follows links
# from its mail ranges (Microsoft 365 "URLs and IP address ranges", Exchange Online); 40.94/16
# is where Safe Links pre-delivery scans were seen (techqa.club/v/q/prevent-microsoft-safe-
# links-scanning-67179134). People do not browse from these networks. Used for clicks only:
# whether Outlook.com's image loads also leave from them is not known, and those are opens.
SCANNER_NETWORKS: tuple[IPv4Network | IPv6Network, ...] = tuple(
    ip_network(cidr)
    for cidr in (
        "40.92.0.0/15",
        "40.94.0.0/16",
        "40.107.0.0/16",
        "52.100.0.0/14",
        "104.47.0.0/17",
        "2a01:111:f400::/48",
        "2a01:111:f403::/48",
    )
)

# Lower-case fragments of the user agents of security gateways that open and click mail on its
# way in (vendors' link-rewriting docs; the agents ESPs such as Braze filter as bot clicks).
SCANNER_AGENTS = (
    "barracuda",  # Barracuda Sentinel / Link Protection (linkprotect.cudasvc.com)
    "mimecast",  # Mimecast URL Protect
    "proofpoint",  # Proofpoint URL Defense (urldefense.proofpoint.com)
    "urldefense",  # Proofpoint URL Defense
    "safelinks",  # Microsoft Defender for Office 365 Safe Links
    "bingpreview",  # Microsoft's link preview and scan
    "ironport",  # Cisco Secure Email (IronPort)
    "ciscosecureemail",  # Cisco Secure Email
    "forcepoint",  # Forcepoint email security
    "symantec",  # Symantec / Broadcom Email Security.cloud
    "messagelabs",  # Symantec MessageLabs
    "mcafee",  # McAfee / Trellix ClickProtect
    "trend micro",  # Trend Micro Email Security
    "sophos",  # Sophos Email
    "fortimail",  # Fortinet FortiMail
    "zscaler",  # Zscaler sandbox
    "appriver",  # AppRiver / Zix
)

# Lower-case fragments of HTTP libraries, tools and headless browsers: scripts, not readers.
BOT_AGENTS = (
    "crawler",
    "spider",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "aiohttp",
    "httpx",
    "go-http-client",
    "java/",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "headlesschrome",  # Chrome run by Puppeteer, Playwright or Selenium
    "phantomjs",
    "slurp",  # Yahoo's crawler, whose agent has no "bot"
    "facebookexternalhit",  # link previews of a forwarded message
)
# "Googlebot", "bingbot", "Slackbot-LinkExpanding", ...; the word boundary spares device names
# such as "CUBOT_X19" in an Android agent.
BOT_WORD = re.compile(r"bot\b")

# Office's check of a link before it opens the browser, which then makes the reader's own request.
CLICK_PRECHECK_AGENTS = ("ms-office", "msoffice", "office existence discovery")


def _in(ip: str | None, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    if not ip:
        return False
    try:
        address = ip_address(ip)
    except ValueError:
        return False
    # "::ffff:17.0.0.1" is 17.0.0.1 to the network, and to a dual-stack server's socket.
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _is_automated_agent(user_agent: str | None, extra: tuple[str, ...] = ()) -> bool:
    # No agent at all: every browser and mail client sends one.
    if not user_agent or not user_agent.strip():
        return True
    agent = user_agent.lower()
    return bool(BOT_WORD.search(agent)) or any(
        fragment in agent for fragment in SCANNER_AGENTS + BOT_AGENTS + extra
    )


@lru_cache(maxsize=65_536)  # the same readers and proxies come back: skip re-parsing them
def is_machine_open(ip: str | None, user_agent: str | None) -> bool:
    """Whether a pixel load was made by a machine rather than a reader opening the message.

    Gmail's image proxy (GoogleImageProxy, via ggpht.com) and Yahoo's (YahooMailProxy) fetch the
    pixel when the reader opens the message and then serve it from their cache, so their loads
    are human opens (the industry's reading; they only hide the reader's IP and device).
    """
    if user_agent is not None and user_agent.strip() == APPLE_PROXY_USER_AGENT:
        return True
    return _in(ip, APPLE_PROXY_NETWORKS) or _is_automated_agent(user_agent)


def is_machine_click(
    ip: str | None, user_agent: str | None, method: str, seconds_since_delivery: float | None
) -> bool:
    """Whether a click was made by a scanner or a bot rather than by a reader.

    Apple's relay ranges are not used here: a reader tapping a link in Safari with iCloud
    Private Relay on arrives from them.
    """
    # A browser follows a link with GET; HEAD (and anything else) is a link checker.
    if method.upper() != "GET":
        return True
    # Also below zero: a click before the message was sent is no reader's.
    if seconds_since_delivery is not None and seconds_since_delivery < SCANNER_WINDOW_SECONDS:
        return True
    return _in(ip, SCANNER_NETWORKS) or _is_automated_agent(user_agent, CLICK_PRECHECK_AGENTS)
