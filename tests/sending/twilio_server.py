"""A Twilio-shaped Messages API on loopback, a real HTTP server for the SMS tests.

The recipient number picks the answer, like Twilio's magic test numbers: OK_NUMBER is accepted
(201), the others are refused, throttled, failed or slow as named.
"""

import base64
import json
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.sending.tcp_servers import serving

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-0123"
FROM_NUMBER = "+15005550006"

OK_NUMBER = "+14155550100"
INVALID_NUMBER = "+15005550001"  # Twilio: 21211, not a valid phone number
NOT_MOBILE_NUMBER = "+15005550009"  # Twilio: 21614, not a mobile number
THROTTLED_NUMBER = "+15005550429"
UNAVAILABLE_NUMBER = "+15005550503"
FAILING_NUMBER = "+15005550500"
NO_SID_NUMBER = "+15005550201"
SLOW_NUMBER = "+15005550777"
SLOW_SECONDS = 1.0


@dataclass
class TwilioServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _handler(server: TwilioServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            content_type = "text/html" if isinstance(body, bytes) else "application/json"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            server.requests.append(
                {"path": self.path, "form": form, "content_type": self.headers["Content-Type"]}
            )
            expected_auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if self.path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                self._answer(*_error(404, 20404, "The requested resource was not found"))
            elif self.headers.get("Authorization") != f"Basic {expected_auth}":
                self._answer(*_error(401, 20003, "Authenticate"))
            elif not self.headers["Content-Type"].startswith("application/x-www-form-urlencoded"):
                self._answer(*_error(400, 20001, "Not a form"))
            elif form.get("From") != FROM_NUMBER or not form.get("Body"):
                self._answer(*_error(400, 21602, "Message body and From are required"))
            else:
                self._to(form["To"], form)

        def _to(self, to: str, form: dict[str, str]) -> None:
            if to == INVALID_NUMBER:
                self._answer(*_error(400, 21211, f"The 'To' number {to} is not a valid number."))
            elif to == NOT_MOBILE_NUMBER:
                self._answer(*_error(400, 21614, f"'To' number {to} is not a mobile number"))
            elif to == THROTTLED_NUMBER:
                self._answer(*_error(429, 20429, "Too Many Requests"), {"Retry-After": "7"})
            elif to == UNAVAILABLE_NUMBER:
                self._answer(503, b"<html>Service Unavailable</html>")
            elif to == FAILING_NUMBER:
                self._answer(*_error(500, 20500, "Internal Server Error"))
            elif to == NO_SID_NUMBER:
                self._answer(201, {"status": "queued"})
            else:
                if to == SLOW_NUMBER:
                    time.sleep(SLOW_SECONDS)
                sid = f"SM{len(server.requests):032x}"
                self._answer(
                    201,
                    {
                        "sid": sid,
                        "status": "queued",
                        "to": to,
                        "from": form["From"],
                        "body": form["Body"],
                        "account_sid": ACCOUNT_SID,
                    },
                )

    return Handler


@contextmanager
def twilio_server(tls: ssl.SSLContext | None = None) -> Iterator[TwilioServer]:
    """The server on loopback; over HTTPS with `tls` (a server context with its certificate)."""
    server = TwilioServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    with serving(httpd) as port:
        server.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        yield server
