"""Machine opens and clicks: privacy proxies, link scanners and bots, told from readers."""

import pytest

from outreach.tracking.machines import (
    SCANNER_WINDOW_SECONDS,
    is_machine_click,
    is_machine_open,
)

APPLE_MPP = "Mozilla/5.0"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MAC_MAIL = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
CHROME_DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID_CUBOT = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT_X19) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
BARRACUDA = "Barracuda Sentinel (EE)"
MIMECAST = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
PROOFPOINT = "Mozilla/5.0 (compatible; Proofpoint URL Defense)"
HEADLESS_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
OFFICE_PRECHECK = "Mozilla/4.0 (compatible; ms-office; MSOffice 16)"

HOME_IP = "203.0.113.7"
OFFICE_IP = "198.51.100.23"
GOOGLE_PROXY_IP = "66.102.8.91"
YAHOO_PROXY_IP = "98.137.27.103"
RELAY_AKAMAI_IP = "172.225.6.110"
RELAY_CLOUDFLARE_IP = "104.28.40.17"
RELAY_FASTLY_IP = "146.75.166.20"
RELAY_IPV6 = "2a02:26f7:b3c0:4000::1"
APPLE_IP = "17.58.101.4"
MICROSOFT_EOP_IP = "40.107.22.41"


@pytest.mark.parametrize(
    ("ip", "user_agent", "machine"),
    [
        # Apple Mail Privacy Protection: by its bare agent, or by Apple's relay ranges.
        (RELAY_AKAMAI_IP, APPLE_MPP, True),
        (HOME_IP, APPLE_MPP, True),
        (RELAY_CLOUDFLARE_IP, IPHONE_MAIL, True),
        (RELAY_FASTLY_IP, MAC_MAIL, True),
        (RELAY_IPV6, APPLE_MPP, True),
        (APPLE_IP, MAC_MAIL, True),
        (f"::ffff:{RELAY_AKAMAI_IP}", IPHONE_MAIL, True),
        # Webmail image proxies fetch when the reader opens: human.
        (GOOGLE_PROXY_IP, GMAIL_PROXY, False),
        (YAHOO_PROXY_IP, YAHOO_PROXY, False),
        # Mail clients fetching for themselves: human.
        (OFFICE_IP, OUTLOOK_DESKTOP, False),
        (HOME_IP, IPHONE_MAIL, False),
        (HOME_IP, MAC_MAIL, False),
        (HOME_IP, CHROME_DESKTOP, False),
        (HOME_IP, ANDROID_CUBOT, False),
        (None, IPHONE_MAIL, False),
        ("not an ip", CHROME_DESKTOP, False),
        # Security gateways and bots.
        (OFFICE_IP, BARRACUDA, True),
        (OFFICE_IP, MIMECAST, True),
        (OFFICE_IP, PROOFPOINT, True),
        (HOME_IP, HEADLESS_CHROME, True),
        (HOME_IP, GOOGLEBOT, True),
        (HOME_IP, "curl/8.5.0", True),
        (HOME_IP, "python-requests/2.32.3", True),
        (HOME_IP, "Go-http-client/1.1", True),
        (HOME_IP, "", True),
        (HOME_IP, "   ", True),
        (HOME_IP, None, True),
    ],
)
def test_machine_open(ip: str | None, user_agent: str | None, machine: bool) -> None:
    assert is_machine_open(ip, user_agent) is machine


HUMAN_DELAY = 3600.0


@pytest.mark.parametrize(
    ("ip", "user_agent", "method", "seconds", "machine"),
    [
        # Readers: any browser, an hour after delivery.
        (HOME_IP, CHROME_DESKTOP, "GET", HUMAN_DELAY, False),
        (HOME_IP, SAFARI_IPHONE, "GET", HUMAN_DELAY, False),
        (HOME_IP, ANDROID_CUBOT, "GET", HUMAN_DELAY, False),
        # Safari with iCloud Private Relay is still a reader clicking.
        (RELAY_AKAMAI_IP, SAFARI_IPHONE, "GET", HUMAN_DELAY, False),
        (HOME_IP, CHROME_DESKTOP, "get", None, False),
        # Link checkers.
        (HOME_IP, CHROME_DESKTOP, "HEAD", HUMAN_DELAY, True),
        (HOME_IP, CHROME_DESKTOP, "OPTIONS", HUMAN_DELAY, True),
        # Within the scanner window of delivery, or before it.
        (HOME_IP, CHROME_DESKTOP, "GET", 2.0, True),
        (HOME_IP, CHROME_DESKTOP, "GET", 0.0, True),
        (HOME_IP, CHROME_DESKTOP, "GET", -5.0, True),
        (HOME_IP, CHROME_DESKTOP, "GET", SCANNER_WINDOW_SECONDS - 0.01, True),
        (HOME_IP, CHROME_DESKTOP, "GET", SCANNER_WINDOW_SECONDS, False),
        # Scanner networks and agents, whenever they come.
        (MICROSOFT_EOP_IP, CHROME_DESKTOP, "GET", HUMAN_DELAY, True),
        (OFFICE_IP, BARRACUDA, "GET", HUMAN_DELAY, True),
        (OFFICE_IP, MIMECAST, "GET", HUMAN_DELAY, True),
        (OFFICE_IP, PROOFPOINT, "GET", HUMAN_DELAY, True),
        (OFFICE_IP, OFFICE_PRECHECK, "GET", HUMAN_DELAY, True),
        (HOME_IP, HEADLESS_CHROME, "GET", HUMAN_DELAY, True),
        (HOME_IP, GOOGLEBOT, "GET", HUMAN_DELAY, True),
        (HOME_IP, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "GET", None, True),
        (HOME_IP, "curl/8.5.0", "GET", HUMAN_DELAY, True),
        (HOME_IP, "Wget/1.21.4", "GET", HUMAN_DELAY, True),
        (HOME_IP, "python-requests/2.32.3", "GET", HUMAN_DELAY, True),
        (HOME_IP, "", "GET", HUMAN_DELAY, True),
        (HOME_IP, None, "GET", HUMAN_DELAY, True),
    ],
)
def test_machine_click(
    ip: str | None, user_agent: str | None, method: str, seconds: float | None, machine: bool
) -> None:
    assert is_machine_click(ip, user_agent, method, seconds) is machine


def test_outlook_opens_are_human_but_its_link_precheck_is_not() -> None:
    assert not is_machine_open(OFFICE_IP, OUTLOOK_DESKTOP)
    assert is_machine_click(OFFICE_IP, OFFICE_PRECHECK, "GET", HUMAN_DELAY)
