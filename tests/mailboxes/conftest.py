"""The mailbox tests' IMAP server: one pymap per test session, a user of its own per test."""

from collections.abc import Iterator

import pytest

from tests.mailboxes.imap_server import ImapServer, fresh_server


@pytest.fixture(scope="session")
def imap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    """pymap on a free loopback port (maildir backend, no TLS)."""
    server = fresh_server(tmp_path_factory.mktemp("imap") / "maildirs")
    yield server
    server.stop()
