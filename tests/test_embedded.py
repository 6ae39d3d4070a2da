"""The embedded servers: PostgreSQL's bookkeeping of the processes that use it, and the mail
catcher (real SMTP on loopback)."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from outreach.config import Settings, get_settings
from outreach.db import DatabaseUrls
from outreach.embedded import (
    ORG_HEADER,
    PORT_FILE,
    MailCatcher,
    MailCatcherUnavailable,
    _forget_dead_users,
    catcher_instance,
    is_mail_catcher,
    start_mail_catcher_if_needed,
)
from outreach.kit.dburls import libpq_url
from outreach.schema import upgrade
from tests.factories import Org, free_port, known, message


def test_pids_of_processes_that_died_without_cleanup_are_forgotten(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid_file = tmp_path / ".handle_pids.json"
    pid_file.write_text(json.dumps([int(dead.stdout), os.getpid()]))
    _forget_dead_users(tmp_path)
    assert json.loads(pid_file.read_text()) == [os.getpid()]


def send(catcher: MailCatcher, mail: EmailMessage) -> None:
    asyncio.run(aiosmtplib.send(mail, hostname=catcher.host, port=catcher.port))


def refusal(catcher: MailCatcher, mail: EmailMessage) -> aiosmtplib.SMTPDataError:
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        send(catcher, mail)
    return refused.value


def caught(conn: psycopg.Connection, org: uuid.UUID) -> list[tuple[Any, ...]]:
    query = "SELECT mail_from, recipients, subject FROM caught_messages WHERE org_id = %s"
    return conn.execute(query, (org,)).fetchall()


def test_the_catcher_keeps_a_message_for_the_org_it_names(
    client: TestClient, org: Org, mail_catcher: MailCatcher, as_owner: psycopg.Connection
) -> None:
    send(mail_catcher, message(str(known(client, org).id), mail_catcher.instance))
    assert caught(as_owner, org.id) == [
        ("recruiting@example.com", ["ada@example.com"], "Hello Ada")
    ]


def test_a_message_without_the_org_header_is_refused(mail_catcher: MailCatcher) -> None:
    refused = refusal(mail_catcher, message(None, mail_catcher.instance))
    assert refused.code == 550
    assert ORG_HEADER in refused.message


def test_a_message_whose_org_header_is_no_id_is_refused(mail_catcher: MailCatcher) -> None:
    refused = refusal(mail_catcher, message("acme", mail_catcher.instance))
    assert refused.code == 550
    assert "not an organization id" in refused.message


def test_a_message_for_an_unknown_org_is_refused(
    mail_catcher: MailCatcher, as_owner: psycopg.Connection
) -> None:
    unknown = uuid.uuid4()
    refused = refusal(mail_catcher, message(str(unknown), mail_catcher.instance))
    assert refused.code == 550
    assert str(unknown) in refused.message
    assert caught(as_owner, unknown) == []


@pytest.mark.parametrize("instance", ["0123456789abcdef", None], ids=["another", "unnamed"])
def test_mail_meant_for_another_databases_catcher_is_not_filed_nor_a_hard_bounce(
    client: TestClient,
    org: Org,
    mail_catcher: MailCatcher,
    as_owner: psycopg.Connection,
    instance: str | None,
) -> None:
    refused = refusal(mail_catcher, message(str(known(client, org).id), instance))
    assert refused.code == 451  # a 4xx: the sender retries later, nobody is suppressed
    assert caught(as_owner, org.id) == []


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The variables the catcher sets, restored (and the settings cache emptied) afterwards."""
    monkeypatch.delenv("OUTREACH_SMTP_URL", raising=False)
    monkeypatch.delenv("OUTREACH_MAIL_CATCHER", raising=False)
    yield monkeypatch
    get_settings.cache_clear()


def settings_for(data_dir: Path, port: int | None = None, smtp_url: str | None = None) -> Settings:
    return Settings(
        env="test",
        data_dir=data_dir,
        smtp_url=smtp_url,
        mail_catcher_port=port,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def started() -> Iterator[list[MailCatcher]]:
    """The catchers a test started, stopped after it."""
    catchers: list[MailCatcher] = []
    yield catchers
    for catcher in catchers:
        catcher.stop()


def start(settings: Settings, app_url: str, started: list[MailCatcher]) -> MailCatcher | None:
    catcher = start_mail_catcher_if_needed(settings, app_url)
    if catcher is not None:
        started.append(catcher)
    return catcher


def test_with_no_smtp_url_the_catcher_starts_and_becomes_the_smtp_url(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    port = free_port()
    catcher = start_mail_catcher_if_needed(settings_for(tmp_path, port), database_urls.app)
    assert catcher is not None
    try:
        assert is_mail_catcher("127.0.0.1", port, catcher.instance)
        assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{port}"
        settings = get_settings()
        assert (settings.smtp_url, settings.mail_catcher) == (
            f"smtp://127.0.0.1:{port}",
            catcher_instance(database_urls.app),
        )
    finally:
        catcher.stop()
    assert not is_mail_catcher("127.0.0.1", port, catcher.instance)


def test_with_an_smtp_url_no_catcher_starts(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, smtp_url="smtp://smtp.example.com:587")
    assert start_mail_catcher_if_needed(settings, database_urls.app) is None
    assert "OUTREACH_SMTP_URL" not in os.environ
    assert "OUTREACH_MAIL_CATCHER" not in os.environ


def test_a_second_process_uses_the_catcher_already_running(
    clean_env: pytest.MonkeyPatch,
    database_urls: DatabaseUrls,
    mail_catcher: MailCatcher,
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path, mail_catcher.port)
    assert start_mail_catcher_if_needed(settings, database_urls.app) is None
    assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{mail_catcher.port}"
    assert os.environ["OUTREACH_MAIL_CATCHER"] == mail_catcher.instance


def test_a_port_taken_by_another_program_is_a_clear_error(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        settings = settings_for(tmp_path, other.getsockname()[1])
        with pytest.raises(MailCatcherUnavailable, match="OUTREACH_MAIL_CATCHER_PORT"):
            start_mail_catcher_if_needed(settings, database_urls.app)
    assert "OUTREACH_SMTP_URL" not in os.environ


def test_without_a_port_each_data_folder_gets_its_own_recorded_for_the_next_start(
    clean_env: pytest.MonkeyPatch,
    database_urls: DatabaseUrls,
    tmp_path: Path,
    started: list[MailCatcher],
) -> None:
    settings = settings_for(tmp_path)
    first = start(settings, database_urls.app, started)
    assert first is not None
    assert (tmp_path / PORT_FILE).read_text() == str(first.port)
    assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{first.port}"
    # a second process of the same folder and database (outreach worker) joins it
    assert start(settings, database_urls.app, started) is None
    assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{first.port}"
    # after a restart, the same port again
    first.stop()
    started.remove(first)
    again = start(settings, database_urls.app, started)
    assert again is not None
    assert again.port == first.port


@pytest.fixture(scope="module")
def second_database(database_urls: DatabaseUrls) -> Iterator[DatabaseUrls]:
    """Another checkout's database on the same machine."""
    owner = make_url(database_urls.owner)
    name = f"{owner.database}_b"
    admin = libpq_url(owner.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    urls = DatabaseUrls(
        app=make_url(database_urls.app).set(database=name).render_as_string(hide_password=False),
        owner=owner.set(database=name).render_as_string(hide_password=False),
    )
    upgrade(urls)
    yield urls
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_two_checkouts_on_one_machine_each_file_mail_into_their_own_database(
    clean_env: pytest.MonkeyPatch,
    client: TestClient,
    org: Org,
    database_urls: DatabaseUrls,
    second_database: DatabaseUrls,
    as_owner: psycopg.Connection,
    tmp_path: Path,
    started: list[MailCatcher],
) -> None:
    mine = start(settings_for(tmp_path / "a"), database_urls.app, started)
    # the other checkout finds port a's file does not name: its catcher is its own
    theirs = start(settings_for(tmp_path / "b"), second_database.app, started)
    assert mine is not None
    assert theirs is not None
    assert mine.port != theirs.port
    assert mine.instance != theirs.instance
    assert not is_mail_catcher("127.0.0.1", theirs.port, mine.instance)

    org_id = str(known(client, org).id)
    assert refusal(theirs, message(org_id, mine.instance)).code == 451
    send(mine, message(org_id, mine.instance))
    assert len(caught(as_owner, org.id)) == 1
    with psycopg.connect(libpq_url(second_database.owner)) as other:
        assert other.execute("SELECT count(*) FROM caught_messages").fetchone() == (0,)


@pytest.fixture
def theirs(
    clean_env: pytest.MonkeyPatch,
    second_database: DatabaseUrls,
    tmp_path: Path,
    started: list[MailCatcher],
) -> MailCatcher:
    """The catcher of another checkout on this machine."""
    catcher = start(settings_for(tmp_path / "b"), second_database.app, started)
    assert catcher is not None
    return catcher


def test_a_recorded_port_now_held_by_another_databases_catcher_is_given_up(
    theirs: MailCatcher, database_urls: DatabaseUrls, tmp_path: Path, started: list[MailCatcher]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / PORT_FILE).write_text(str(theirs.port))
    mine = start(settings_for(tmp_path / "a"), database_urls.app, started)
    assert mine is not None
    assert mine.port != theirs.port
    assert (tmp_path / "a" / PORT_FILE).read_text() == str(mine.port)
    assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{mine.port}"


def test_a_given_port_held_by_another_databases_catcher_is_a_clear_error(
    theirs: MailCatcher, database_urls: DatabaseUrls, tmp_path: Path, started: list[MailCatcher]
) -> None:
    with pytest.raises(MailCatcherUnavailable, match="another program or outreach database"):
        start(settings_for(tmp_path / "a", theirs.port), database_urls.app, started)
