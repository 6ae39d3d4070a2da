"""A webhook receiver on loopback, a real HTTP server for the webhook action's tests.

It checks each request's signature with the `standardwebhooks` library's own verifier (401
when it fails), and the path picks the answer: `/ok`, `/status/<code>` (with the Retry-After
`?retry_after=`, 7 by default), `/flaky/<n>/<key>` (500 for the first n requests to the
path, then 200), `/slow`, `/endless` (a body that never ends),
`/redirect/<code>?to=<url>`.
"""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from standardwebhooks import Webhook, WebhookVerificationError

from tests.sending.tcp_servers import serving

SLOW_SECONDS = 2.0
ENDLESS_CHUNK = 64 * 1024
ENDLESS_LIMIT = 256 * 1024 * 1024  # a client that reads everything stops the server here


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    verified: Any  # the payload the verifier returned, None when the signature failed


@dataclass
class HookServer:
    url: str
    secret: str
    received: list[Received] = field(default_factory=list)
    endless_sent: int = 0  # bytes of the endless body written before the client went away
    failed: dict[str, int] = field(default_factory=dict)  # flaky paths: requests answered so far
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(server: HookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _receive(self) -> Received:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                verified = Webhook(server.secret).verify(body, headers)
            except WebhookVerificationError:
                verified = None
            received = Received(self.command, self.path, headers, body, verified)
            with server.lock:
                server.received.append(received)
            return received

        def _endless(self) -> None:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"%x\r\n%s\r\n" % (ENDLESS_CHUNK, b"x" * ENDLESS_CHUNK)
            try:
                while server.endless_sent < ENDLESS_LIMIT:
                    self.wfile.write(chunk)
                    server.endless_sent += ENDLESS_CHUNK
            except OSError:
                pass  # the client stopped reading and closed the connection
            self.close_connection = True

        def _serve(self) -> None:
            received = self._receive()
            if received.verified is None:
                self._answer(401, b'{"error": "bad signature"}')
                return
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            match parts:
                case ["ok"]:
                    self._answer(200, json.dumps({"received": True}).encode())
                case ["status", code]:
                    retry_after = parse_qs(url.query).get("retry_after", ["7"])[0]
                    self._answer(int(code), b"nope", Retry_After=retry_after)
                case ["flaky", count, _key]:
                    with server.lock:
                        failed = server.failed.get(url.path, 0)
                        server.failed[url.path] = failed + 1
                    if failed < int(count):
                        self._answer(500, b"not yet")
                    else:
                        self._answer(200, b"at last")
                case ["slow"]:
                    time.sleep(SLOW_SECONDS)
                    self._answer(200, b"late")
                case ["endless"]:
                    self._endless()
                case ["redirect", code]:
                    location = parse_qs(url.query)["to"][0]
                    self._answer(int(code), Location=location)
                case _:
                    self._answer(404)

        do_POST = do_PUT = do_PATCH = do_GET = _serve

    return Handler


@contextmanager
def hook_server(secret: str) -> Iterator[HookServer]:
    server = HookServer(url="", secret=secret)
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))) as port:
        server.url = f"http://127.0.0.1:{port}"
        yield server
