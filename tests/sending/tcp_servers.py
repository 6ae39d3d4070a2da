"""Plain TCP listeners on loopback that are not (quite) SMTP servers: one that speaks HTTP, one
that accepts and stays silent, and a slow SMTP server that greets after a delay."""

import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

HTTP_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)


@dataclass
class Listener:
    port: int
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> None:
        with self.lock:
            self.connections += 1


@contextmanager
def tcp_listener(serve: Callable[[socket.socket], None]) -> Iterator[Listener]:
    """A threaded TCP server on 127.0.0.1 that runs `serve` for each connection."""
    listener = Listener(port=0)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            listener.accepted()
            serve(self.request)

    with serving(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)) as port:
        listener.port = port
        yield listener


@contextmanager
def serving(server: socketserver.ThreadingTCPServer) -> Iterator[int]:
    """Runs the server in a thread until the block ends; gives its port."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def speak_http(conn: socket.socket) -> None:
    conn.sendall(HTTP_ANSWER)


def stay_silent(conn: socket.socket) -> None:
    conn.settimeout(30)
    try:
        while conn.recv(1024):
            pass
    except OSError:
        pass


def greet_after(seconds: float) -> Callable[[socket.socket], None]:
    """A minimal SMTP server that greets after `seconds`, then answers QUIT."""

    def serve(conn: socket.socket) -> None:
        time.sleep(seconds)
        conn.sendall(b"220 slow.example ESMTP\r\n")
        conn.settimeout(30)
        with conn.makefile("rb") as lines:
            for line in lines:
                if line.upper().startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                conn.sendall(b"250 ok\r\n")

    return serve
