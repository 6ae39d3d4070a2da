"""The IMAP client against a real server (pymap on loopback): the mailbox test's answers, new
messages by UID, read-only access, IDLE."""

import asyncio
import ssl

import trustme

from outreach.kit.targets import TargetGuard
from outreach.mailboxes.client import MailboxSettings, check, connect
from tests.factories import free_port
from tests.mailboxes.imap_server import ImapServer

GUARD = TargetGuard(allow_private=True)  # loopback is allowed outside production


def settings_for(server: ImapServer, user: str, **changes: object) -> MailboxSettings:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "tls": "none",
        "username": user,
        "auth": "password",
        "secret": server.passwords[user],
    }
    return MailboxSettings(**(values | changes))  # type: ignore[arg-type]


def mail(number: int) -> bytes:
    return (
        f"From: someone@example.com\r\nTo: recruiting@example.com\r\n"
        f"Subject: message {number}\r\nMessage-ID: <m{number}@example.com>\r\n\r\n"
        f"Body {number}\r\n"
    ).encode()


def test_the_check_connects_logs_in_and_opens_inbox(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    result = asyncio.run(check(settings_for(imap_server, user), GUARD))
    assert result.ok, result.detail
    assert result.stage == "done"
    assert "opened INBOX" in result.detail


def test_a_wrong_password_stops_the_check_at_login(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    result = asyncio.run(check(settings_for(imap_server, user, secret="wrong"), GUARD))
    assert not result.ok
    assert result.stage == "login"
    assert "wrong user name or password" in result.detail


def test_an_unreachable_host_stops_the_check_at_connect(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    result = asyncio.run(check(settings_for(imap_server, user, port=free_port()), GUARD))
    assert not result.ok
    assert result.stage == "connect"
    assert result.detail.startswith("Host unreachable")


def test_a_refused_target_is_never_connected_to(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    production = TargetGuard(allow_private=False)
    result = asyncio.run(check(settings_for(imap_server, user), production))
    assert not result.ok
    assert result.stage == "connect"
    assert result.detail.startswith("Target refused: 127.0.0.1 is a loopback address")


def test_tls_to_a_server_without_tls_is_a_tls_failure(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    result = asyncio.run(check(settings_for(imap_server, user, tls="tls"), GUARD))
    assert not result.ok
    assert result.stage == "connect"
    assert result.detail.startswith("TLS failed")


def test_starttls_on_a_server_that_does_not_offer_it_is_a_tls_failure(
    imap_server: ImapServer,
) -> None:
    user = imap_server.add_user()
    result = asyncio.run(check(settings_for(imap_server, user, tls="starttls"), GUARD))
    assert not result.ok
    assert result.stage == "connect"
    assert "does not offer STARTTLS" in result.detail


def test_oauth2_on_a_server_without_xoauth2_says_so(imap_server: ImapServer) -> None:
    # pymap offers PLAIN and LOGIN only: XOAUTH2 is checked as far as its CAPABILITY allows
    user = imap_server.add_user()
    settings = settings_for(imap_server, user, auth="oauth2", secret="ya29.token")
    result = asyncio.run(check(settings, GUARD))
    assert not result.ok
    assert result.stage == "login"
    assert "does not offer OAuth2 (XOAUTH2)" in result.detail


def test_new_messages_are_read_by_uid_and_left_unread(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    uids = [imap_server.put(user, mail(number)) for number in range(3)]

    async def read() -> tuple[int, list[int], list[bytes | None]]:
        async with connect(settings_for(imap_server, user), GUARD) as connection:
            after_first = await connection.uids_after(uids[0])
            fetched = await connection.fetch(after_first)
            return connection.uid_validity, after_first, [f.raw for f in fetched]

    validity, after_first, bodies = asyncio.run(read())
    assert validity == imap_server.uid_validity(user)
    assert after_first == uids[1:]
    assert [b"Body 1" in (body or b"") for body in bodies] == [True, False]
    assert [b"Body 2" in (body or b"") for body in bodies] == [False, True]
    assert all("\\Seen" not in flags for flags in imap_server.flags(user).values())


def test_nothing_after_the_last_uid_reads_nothing(imap_server: ImapServer) -> None:
    user = imap_server.add_user()
    last = imap_server.put(user, mail(1))

    async def read() -> list[int]:
        async with connect(settings_for(imap_server, user), GUARD) as connection:
            return await connection.uids_after(last)

    assert asyncio.run(read()) == []


def test_a_message_over_the_size_limit_is_skipped_with_its_reason(
    imap_server: ImapServer,
) -> None:
    user = imap_server.add_user()
    small, large = imap_server.put(user, mail(1)), imap_server.put(user, mail(2) + b"x" * 2000)

    async def read() -> list[tuple[int, bool, str | None]]:
        async with connect(settings_for(imap_server, user), GUARD) as connection:
            fetched = await connection.fetch([small, large], max_bytes=1000)
            return [(f.uid, f.raw is not None, f.skipped) for f in fetched]

    (first, second) = asyncio.run(read())
    assert first == (small, True, None)
    assert second[:2] == (large, False)
    assert second[2] is not None
    assert "bytes" in second[2]


def test_idle_hears_a_new_message_at_once(imap_server: ImapServer) -> None:
    user = imap_server.add_user()

    async def wait() -> tuple[bool, float]:
        async with connect(settings_for(imap_server, user), GUARD) as connection:
            assert connection.can_idle
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, lambda: loop.run_in_executor(None, imap_server.put, user, mail(1)))
            started = loop.time()
            heard = await connection.wait_for_new(30)
            return heard, loop.time() - started

    heard, took = asyncio.run(wait())
    assert heard
    assert took < 10


def test_starttls_with_an_untrusted_certificate_is_a_tls_failure(tmp_path: object) -> None:
    """A server whose certificate is not trusted: the connection stops at TLS."""
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    port = free_port()

    async def run() -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
            line = await reader.readline()
            tag = line.split()[0]
            if b"CAPABILITY" in line:
                writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + b" OK done\r\n")
                line = await reader.readline()
                tag = line.split()[0]
            writer.write(tag + b" OK begin TLS\r\n")
            await writer.drain()
            try:
                await writer.start_tls(server_context)
            except (ssl.SSLError, OSError):
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            settings = MailboxSettings("127.0.0.1", port, "starttls", "ada", "password", "pw")
            result = await check(settings, GUARD)
        assert not result.ok
        return result.detail

    detail = asyncio.run(run())
    assert detail.startswith("TLS failed")
    assert "certificate" in detail
