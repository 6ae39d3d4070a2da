"""A real IMAP server for the tests: pymap's maildir backend on a free loopback port, run as a
subprocess, with its users in pymap's passwd-style files; messages are put in a user's INBOX
over IMAP (APPEND), as a mail server's delivery would."""

import imaplib
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pysasl.hashing import BuiltinHash

from tests.factories import free_port

START_SECONDS = 20.0
# pymap checks passwords against a PBKDF2 hash; a few rounds keep logins fast in tests
_HASH = BuiltinHash(rounds=1000)


@dataclass
class ImapServer:
    directory: Path
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    passwords: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        pymap = Path(sys.executable).with_name("pymap")
        self.process = subprocess.Popen(  # noqa: S603 - our own venv's pymap
            [
                str(pymap),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--no-tls",
                "maildir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"pymap did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def add_user(self, password: str = "secret") -> str:
        """A new user with an empty INBOX; answers its name (the IMAP user name)."""
        name = f"u{uuid.uuid4().hex[:12]}"
        self.passwords[name] = password
        with (self.directory / "pymap-etc-passwd").open("a") as users:
            users.write(f"{name}:::::{name}:\r\n")
        with (self.directory / "pymap-etc-shadow").open("a") as shadow:
            shadow.write(f"{name}:{_HASH.hash(password)}\r\n")
        return name

    def _login(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(user, self.passwords[user])
        return client

    def put(self, user: str, raw: bytes) -> int:
        """The message appended to the user's INBOX, unread; answers its UID."""
        client = self._login(user)
        try:
            status, data = client.append("INBOX", None, None, raw)
            assert status == "OK", data
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            assert found is not None, data
            return int(found.group(1))
        finally:
            client.logout()

    def flags(self, user: str) -> dict[int, str]:
        """Each INBOX message's flags by UID, read without changing them."""
        client = self._login(user)
        try:
            client.select("INBOX", readonly=True)
            status, data = client.uid("FETCH", "1:*", "(UID FLAGS)")
            assert status == "OK", data
            flags = {}
            for line in data:
                found = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", line or b"")
                if found:
                    flags[int(found.group(1))] = found.group(2).decode()
            return flags
        finally:
            client.logout()

    def uid_validity(self, user: str) -> int:
        client = self._login(user)
        try:
            status, data = client.status("INBOX", "(UIDVALIDITY)")
            assert status == "OK", data
            found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            assert found is not None, data
            return int(found.group(1))
        finally:
            client.logout()

    def restart_with_new_validity(self, user: str) -> None:
        """Stop the server, forget the user's INBOX UIDs (dovecot-uidlist) and start again:
        its messages get new UIDs from 1 under a new UIDVALIDITY, as after a server
        migration."""
        self.stop()
        (self.directory / user / "dovecot-uidlist").unlink()
        self.start()


def fresh_server(directory: Path) -> ImapServer:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    server = ImapServer(directory)
    server.start()
    return server
