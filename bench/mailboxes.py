"""Mailbox sync: one sender's mailbox of 10,000 messages, 1,000 of them replies to what the
sender sent; the first sync's time next to a bare aioimaplib read of the same mailbox in the
same run (the ceiling), then the time from a new reply's arrival to its event with an
`outreach worker` holding the mailbox in IDLE.

Phases: a fresh database (OUTREACH_TEST_ADMIN_URL or the embedded PostgreSQL, as
campaign_reads.py); one organization with an active campaign whose sender sent one message to
each of R contacts (outbox rows `sent` with their Message-IDs, COPY); the sender's mailbox, a
maildir written directly (as a mail server's local delivery does; APPEND into pymap takes about
0.2 s a message at a few thousand) and served by pymap on loopback: the R replies (In-Reply-To
one of ours, a quoted history below), newsletters, personal mail, and a few auto-replies and
DSN bounces to our messages, shuffled. The ceiling: one aioimaplib connection logging in,
EXAMINE INBOX and UID FETCH BODY.PEEK[] of every message in chunks of the sync's size, nothing
else. The first sync: the job's own `MailboxSync` from UID 0 to the end (every reply,
auto-reply and bounce recorded exactly once is checked). Last, one `outreach worker` process
holds the mailbox in IDLE while new replies are APPENDed a second apart: each one's delay from
the end of its APPEND to its event's `created_at` (target: p95 under 10 s). pymap is pure
Python: its speed bounds both the ceiling and the sync.

    .venv/bin/python bench/mailboxes.py                          # 10,000 messages, 1,000 replies
    .venv/bin/python bench/mailboxes.py --messages 500 --replies 50      # quicker
"""

import argparse
import imaplib
import json
import mailbox
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aioimaplib
import psycopg
import uvloop
from aioimaplib.aioimaplib import SELECTED
from cryptography.fernet import Fernet
from pysasl.hashing import BuiltinHash

from campaign_reads import fresh_database, phase
from outreach.config import Settings
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker
from outreach.kit.dburls import libpq_url
from outreach.kit.targets import TargetGuard
from outreach.mailboxes.jobs import MailboxSync
from outreach.mailboxes.sync import CHUNK
from outreach.sending.outbox.queue import message_id_for
from outreach.sending.secrets import sender_secrets
from sending import free_port
from workflows import load as load_campaign

DELAY_TARGET_SECONDS = 10.0
FROM_EMAIL = "bench@example.com"
USER, PASSWORD = "bench", "bench-password"
START_SECONDS = 20.0
SETTLE_SECONDS = 3.0  # from the worker's claim to its IDLE: connect, log in, search


# -- the mailbox's messages ----------------------------------------------------------------


def headers(sender: str, subject: str, message_id: str, extra: list[str] | None = None) -> str:
    lines = [
        f"From: {sender}",
        f"To: Bench <{FROM_EMAIL}>",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        *(extra or []),
    ]
    return "\r\n".join(lines) + "\r\n"


def reply(number: int, person: int, ours: str, kind: str = "reply") -> bytes:
    """A contact's answer to our message `ours`, with the quoted history below it."""
    body = (
        f"Hi,\r\n\r\nThanks for reaching out. I would be glad to talk about the role; "
        f"Tuesday or Thursday afternoon works for me ({number}).\r\n\r\nBest,\r\nPerson{person}"
        "\r\n\r\nOn Mon, 23 Nov 2026 at 09:00, Bench <bench@example.com> wrote:\r\n"
        f"> Hi Person{person},\r\n>\r\n> We are hiring engineers in Paris: "
        "https://jobs.example.com/role?id=7\r\n"
    )
    top = headers(
        f"Person{person} <person{person}@example.com>",
        "Re: Hello",
        f"<{kind}-{number}@mail.example.net>",
        [f"In-Reply-To: {ours}", f"References: {ours}", "Content-Type: text/plain"],
    )
    return (top + "\r\n" + body).encode()


def auto_reply(number: int, person: int, ours: str, back: datetime) -> bytes:
    top = headers(
        f"Person{person} <person{person}@example.com>",
        "Automatic reply: Hello",
        f"<auto-{number}@mail.example.net>",
        [f"In-Reply-To: {ours}", "Auto-Submitted: auto-replied", "Content-Type: text/plain"],
    )
    body = f"I am out of the office until {back:%d %B %Y} with limited access to email.\r\n"
    return (top + "\r\n" + body).encode()


def bounce(number: int, person: int, ours: str) -> bytes:
    top = headers(
        "Mail Delivery System <MAILER-DAEMON@mx.example.net>",
        "Undelivered Mail Returned to Sender",
        f"<dsn-{number}@mx.example.net>",
        [
            "Auto-Submitted: auto-replied",
            'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
        ],
    )
    return (
        top + "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; person{person}@example.com\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {FROM_EMAIL}\r\nTo: person{person}@example.com\r\n"
        f"Message-ID: {ours}\r\nSubject: Hello\r\n--B--\r\n"
    ).encode()


def newsletter(number: int) -> bytes:
    top = headers(
        "Tech Weekly <news@letters.example.org>",
        f"Tech Weekly #{number}: what changed in Python this week",
        f"<news-{number}@letters.example.org>",
        [
            "Precedence: bulk",
            "List-Unsubscribe: <https://letters.example.org/unsubscribe?u=7>",
            'Content-Type: multipart/alternative; boundary="N"',
        ],
    )
    story = "A long paragraph about releases, conferences and what readers wrote to us. " * 12
    return (
        top + f"\r\n--N\r\nContent-Type: text/plain\r\n\r\n{story}\r\n"
        f"--N\r\nContent-Type: text/html\r\n\r\n<html><body><p>{story}</p>"
        '<a href="https://letters.example.org/unsubscribe?u=7">Unsubscribe</a></body></html>\r\n'
        "--N--\r\n"
    ).encode()


def personal(number: int) -> bytes:
    top = headers(
        f"Friend {number} <friend{number}@mail.example.net>",
        "Dinner on Friday?",
        f"<friend-{number}@mail.example.net>",
        ["Content-Type: text/plain"],
    )
    return (top + "\r\nAre you free on Friday evening? The usual place at 8.\r\n").encode()


def mailbox_messages(
    ours: list[str], total: int, seed: int = 7
) -> tuple[list[bytes], dict[str, int]]:
    """`total` messages: a reply to each of `ours`, 0.5 % auto-replies and 0.5 % bounces to
    ours, the rest newsletters and personal mail, shuffled; and how many of each."""
    others = total - len(ours)
    autos = bounces = max(1, total // 200)
    back = datetime.now(UTC) + timedelta(days=20)
    messages = [reply(n, n, message) for n, message in enumerate(ours)]
    messages += [auto_reply(n, n % len(ours), ours[n % len(ours)], back) for n in range(autos)]
    messages += [bounce(n, n % len(ours), ours[n % len(ours)]) for n in range(bounces)]
    rest = others - autos - bounces
    messages += [newsletter(n) if n % 5 < 3 else personal(n) for n in range(rest)]
    random.Random(seed).shuffle(messages)
    counts = {"replies": len(ours), "auto-replies": autos, "bounces": bounces, "other": rest}
    return messages, counts


# -- the database ------------------------------------------------------------------------


def load(
    urls: DatabaseUrls, replies: int, port: int, secret: str
) -> tuple[uuid.UUID, uuid.UUID, list[str]]:
    """One organization, an active campaign of `replies` contacts (workflows.py's) whose sender
    sent each one message (COPY), and the sender's mailbox on the IMAP server; answers the
    organization, the sender and our Message-IDs (the n-th to person n)."""
    org, campaign, template = load_campaign(urls, replies)  # its sender sends nothing more
    with psycopg.connect(libpq_url(urls.owner)) as conn, conn.cursor() as cur:
        found = cur.execute("SELECT sender_id FROM campaigns WHERE id = %s", (campaign,))
        row = found.fetchone()
        assert row is not None
        sender = row[0]
        members = cur.execute(
            "SELECT cc.id FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id "
            "WHERE cc.campaign_id = %s ORDER BY substring(c.email FROM 'person(\\d+)')::int",
            (campaign,),
        ).fetchall()
        outbox = [uuid.uuid4() for _ in members]
        ours = [message_id_for(message, FROM_EMAIL) for message in outbox]
        sent_at = datetime.now(UTC) - timedelta(days=1)
        with cur.copy(
            "COPY outbox_messages (id, org_id, campaign_id, campaign_contact_id, channel, "
            "status, sender_id, template_id, step, message_id, sent_at) FROM STDIN"
        ) as copy:
            for message, (member,), message_id in zip(outbox, members, ours, strict=True):
                copy.write_row(
                    (message, org, campaign, member, "email", "sent", sender, template, "message",
                     message_id, sent_at)
                )  # fmt: skip
        cur.execute(
            "INSERT INTO sender_mailboxes (org_id, sender_id, imap_host, imap_port, imap_tls, "
            "imap_username, auth, secret_encrypted) VALUES (%s, %s, '127.0.0.1', %s, 'none', "
            "%s, 'password', %s)",
            (org, sender, port, USER, sender_secrets((secret,)).encrypt(PASSWORD)),
        )
        cur.execute("ANALYZE")
    return org, sender, ours


RECORDED = """
SELECT (SELECT coalesce(jsonb_object_agg(event_type, n), '{}') FROM (
          SELECT event_type, count(*) AS n FROM engagement_events
          WHERE org_id = %(org)s AND provider = 'imap' GROUP BY event_type) AS e),
       (SELECT count(*) FROM inbox_messages WHERE org_id = %(org)s AND direction = 'inbound'),
       m.last_uid, m.last_error
FROM sender_mailboxes m WHERE m.org_id = %(org)s
"""


def recorded(urls: DatabaseUrls, org: uuid.UUID) -> tuple[dict[str, int], int, int, str | None]:
    """The mailbox's events by type, its inbox rows, its last UID and last error."""
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute(RECORDED, {"org": org}).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


# -- the IMAP server: pymap over a maildir written directly -------------------------------


def deliver(directory: Path, messages: list[bytes]) -> None:
    """The user's passwd entries (pymap's files) and its INBOX maildir, filled as a mail
    server's local delivery does (into `new/`: pymap gives them UIDs when INBOX is opened)."""
    with (directory / "pymap-etc-passwd").open("w") as users:
        users.write(f"{USER}:::::{USER}:\r\n")
    with (directory / "pymap-etc-shadow").open("w") as shadow:
        shadow.write(f"{USER}:{BuiltinHash(rounds=1000).hash(PASSWORD)}\r\n")
    inbox = mailbox.Maildir(directory / USER, create=True)
    for message in messages:
        inbox.add(message)


def start_pymap(directory: Path, port: int) -> subprocess.Popen[bytes]:
    pymap = Path(sys.executable).with_name("pymap")
    where = ["--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [str(pymap), *where, "--no-tls", "maildir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if probe.recv(100).startswith(b"* OK"):
                    return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError(f"pymap did not start on port {port}")


def take_in(port: int) -> int:
    """INBOX opened once, so that pymap gives the delivered messages their UIDs (not part of
    any figure); answers how many it holds."""
    client = imaplib.IMAP4("127.0.0.1", port, timeout=600)
    try:
        client.login(USER, PASSWORD)
        status, data = client.select("INBOX", readonly=True)
        assert status == "OK", data
        return int(data[0] or 0)
    finally:
        client.logout()


# -- the ceiling: bare aioimaplib --------------------------------------------------------


async def ceiling(port: int, chunk: int) -> tuple[int, float]:
    """Every message of INBOX fetched by UID, `chunk` at a time, one connection; answers the
    messages received and the seconds from the login to the last one."""
    client = aioimaplib.IMAP4(host="127.0.0.1", port=port, timeout=120)
    await client.wait_hello_from_server()
    started = time.perf_counter()
    await client.login(USER, PASSWORD)
    examined = await client.examine("INBOX")
    assert examined.result == "OK", examined
    client.protocol.state = SELECTED  # aioimaplib knows SELECT only; EXAMINE opens it the same
    found = await client.uid_search("ALL", charset=None)
    uids = sorted(
        int(uid) for line in found.lines[:-1] for uid in bytes(line).split() if uid.isdigit()
    )
    received = 0
    for start in range(0, len(uids), chunk):
        batch = uids[start : start + chunk]
        fetched = await client.uid("fetch", f"{batch[0]}:{batch[-1]}", "(BODY.PEEK[])")
        assert fetched.result == "OK", fetched.lines[-1:]
        received += sum(isinstance(line, bytearray) for line in fetched.lines)
    elapsed = time.perf_counter() - started
    await client.logout()
    return received, elapsed


# -- the first sync: the job's own code --------------------------------------------------


async def first_sync(settings: Settings, urls: DatabaseUrls) -> float:
    engine = create_engine(urls.app, pool_size=4)
    try:
        worker = MailboxSync.from_settings(settings, create_sessionmaker(engine))
        worker.idle_seconds = 0  # read to the end, then log out
        worker.guard = TargetGuard(allow_private=True)  # the server is on loopback
        started = time.perf_counter()
        synced = await worker.sync_due()
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert synced == 1, f"{synced} mailboxes synced"
    return elapsed


# -- arrival to event with IDLE ----------------------------------------------------------


def lease_taken(urls: DatabaseUrls, org: uuid.UUID) -> bool:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        row = conn.execute(
            "SELECT leased_until IS NOT NULL FROM sender_mailboxes WHERE org_id = %s", (org,)
        ).fetchone()
    return bool(row and row[0])


def event_times(urls: DatabaseUrls, org: uuid.UUID, ids: list[str]) -> dict[str, float]:
    with psycopg.connect(libpq_url(urls.owner)) as conn:
        rows = conn.execute(
            "SELECT provider_event_id, extract(epoch FROM created_at) FROM engagement_events "
            "WHERE org_id = %s AND provider = 'imap' AND provider_event_id = ANY(%s)",
            (org, ids),
        ).fetchall()
    return {row[0]: float(row[1]) for row in rows}


def measure_arrivals(
    urls: DatabaseUrls,
    org: uuid.UUID,
    port: int,
    secret: str,
    ours: list[str],
    arrivals: int,
    gap: float,
) -> list[float]:
    """One `outreach worker` holds the mailbox in IDLE; `arrivals` replies are APPENDed `gap`
    seconds apart; each one's delay from the end of its APPEND to its event's `created_at`
    (the replies whose event never came within 30 s of the last are left out)."""
    env = {
        **os.environ,
        "DATABASE_URL": urls.app,
        "DATABASE_OWNER_URL": urls.owner,
        "OUTREACH_PUBLIC_URL": "https://outreach.example.com",
        "OUTREACH_SENDER_SECRET_KEYS": json.dumps([secret]),
        "OUTREACH_ALLOW_PRIVATE_TARGETS": "true",
        "OUTREACH_PLAN_MINUTES": "1440",
        "OUTREACH_RECONCILE_MINUTES": "1440",
        "OUTREACH_LOG_LEVEL": "WARNING",
    }
    with psycopg.connect(libpq_url(urls.owner)) as conn:  # due now, not after the poll interval
        conn.execute("UPDATE sender_mailboxes SET next_sync_at = now() WHERE org_id = %s", (org,))
    worker = subprocess.Popen([sys.executable, "-m", "outreach.cli", "worker"], env=env)
    appended: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while not lease_taken(urls, org):
            assert time.monotonic() < deadline, "the worker did not claim the mailbox"
            time.sleep(0.1)
        time.sleep(SETTLE_SECONDS)
        client = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        client.login(USER, PASSWORD)
        for n in range(arrivals):
            person = n % len(ours)
            status, data = client.append(
                "INBOX", None, None, reply(n, person, ours[person], kind="arrival")
            )
            appended[f"<arrival-{n}@mail.example.net>"] = time.time()
            assert status == "OK", data
            time.sleep(gap)
        client.logout()
        deadline = time.monotonic() + 30
        while len(event_times(urls, org, list(appended))) < arrivals:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        events = event_times(urls, org, list(appended))
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    return [events[key] - at for key, at in appended.items() if key in events]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="in the mailbox")
    parser.add_argument("--replies", type=int, default=1_000, help="of them, replies to ours")
    parser.add_argument("--arrivals", type=int, default=20, help="new replies under IDLE")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between arrivals")
    args = parser.parse_args()
    if not 0 < args.replies <= args.messages - 2 * max(1, args.messages // 200):
        parser.error("--replies must leave room for the auto-replies and bounces (1 %)")
    return args


def main() -> int:
    args = parse_args()
    port = free_port()
    secret = Fernet.generate_key().decode()
    directory = Path(tempfile.mkdtemp(prefix="outreach-bench-imap-"))
    pymap: subprocess.Popen[bytes] | None = None
    try:
        with fresh_database() as urls:
            settings = Settings(database_url=urls.app, sender_secret_keys=[secret], _env_file=None)
            phase(
                f"load: a campaign that sent {args.replies:,} messages; a mailbox of "
                f"{args.messages:,}"
            )
            started = time.perf_counter()
            org, _, ours = load(urls, args.replies, port, secret)
            print(f"database (COPY): {time.perf_counter() - started:.1f} s")
            messages, counts = mailbox_messages(ours, args.messages)
            started = time.perf_counter()
            deliver(directory, messages)
            size = sum(len(message) for message in messages)
            print(
                f"maildir: {len(messages):,} messages ({size / 1e6:.1f} MB: "
                + ", ".join(f"{n:,} {kind}" for kind, n in counts.items())
                + f") written in {time.perf_counter() - started:.1f} s"
            )
            pymap = start_pymap(directory, port)
            started = time.perf_counter()
            held = take_in(port)
            print(f"pymap gave them UIDs (first EXAMINE) in {time.perf_counter() - started:.1f} s")
            assert held == args.messages, f"INBOX holds {held}"

            phase(f"ceiling: bare aioimaplib, UID FETCH BODY.PEEK[] in chunks of {CHUNK}")
            received, seconds = uvloop.run(ceiling(port, CHUNK))  # the worker's loop
            top = received / seconds
            print(f"{received:,} messages in {seconds:.1f} s = {top:,.0f} messages/s")

            phase("first sync: MailboxSync from UID 0 (classify, match, record)")
            synced_in = uvloop.run(first_sync(settings, urls))
            rate = args.messages / synced_in
            print(
                f"{args.messages:,} messages in {synced_in:.1f} s = {rate:,.0f} messages/s "
                f"= {rate / top:.0%} of the ceiling"
            )
            events, inbox_rows, last_uid, last_error = recorded(urls, org)
            expected = {
                "response_received": counts["replies"],
                "auto_replied": counts["auto-replies"],
                "bounced": counts["bounces"],
            }
            exact = events == expected and inbox_rows == counts["replies"]
            exact = exact and last_uid == held and last_error is None
            print(
                f"recorded: {events} and {inbox_rows:,} inbox rows; last UID {last_uid:,}, "
                f"last error {last_error!r}; expected {expected}, {counts['replies']:,} inbox "
                f"rows, last UID {held:,}: {'exact' if exact else 'DIFFERENT'}"
            )

            phase(
                f"arrival to event: 1 `outreach worker` in IDLE, {args.arrivals} replies "
                f"{args.gap:g} s apart"
            )
            delays = sorted(
                measure_arrivals(urls, org, port, secret, ours, args.arrivals, args.gap)
            )
    finally:
        if pymap is not None:
            pymap.terminate()
            pymap.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)

    phase("summary")
    print(f"ceiling (bare aioimaplib, same server): {top:,.0f} messages/s")
    print(
        f"first sync of {args.messages:,} messages ({args.replies:,} replies): "
        f"{synced_in:.1f} s = {rate:,.0f} messages/s = {rate / top:.0%} of the ceiling; "
        f"every reply, auto-reply and bounce recorded once: {'yes' if exact else 'NO'}"
    )
    if delays:
        p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
        every = len(delays) == args.arrivals
        verdict = "pass" if every and p95 < DELAY_TARGET_SECONDS else "MISSED"
        print(
            f"arrival to event with IDLE: n={len(delays)} of {args.arrivals} "
            f"p50={statistics.median(delays):.2f} s p95={p95:.2f} s max={delays[-1]:.2f} s "
            f"(target p95 < {DELAY_TARGET_SECONDS:.0f} s): {verdict}"
        )
    else:
        print(f"arrival to event with IDLE: none of {args.arrivals} recorded: MISSED")
    print(f"finished {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
