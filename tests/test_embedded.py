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

import aiosmtplib
import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.config import Settings, get_settings
from outreach.db import DatabaseUrls
from outreach.embedded import (
    ORG_HEADER,
    MailCatcher,
    MailCatcherUnavailable,
    _forget_dead_users,
    is_mail_catcher,
    start_mail_catcher_if_needed,
)
from tests.factories import Org


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


def known(client: TestClient, org: Org) -> Org:
    """The org exists in the database once it made a request."""
    assert client.get("/api/v1/campaigns", headers=org.headers()).status_code == 200
    return org


def message(org_header: str | None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "recruiting@example.com"
    mail["To"] = "ada@example.com"
    mail["Subject"] = "Hello Ada"
    if org_header is not None:
        mail[ORG_HEADER] = org_header
    mail.set_content("Hi Ada")
    return mail


def send(catcher: MailCatcher, mail: EmailMessage) -> None:
    asyncio.run(aiosmtplib.send(mail, hostname=catcher.host, port=catcher.port))


def refusal(catcher: MailCatcher, mail: EmailMessage) -> aiosmtplib.SMTPDataError:
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        send(catcher, mail)
    return refused.value


def test_the_catcher_keeps_a_message_for_the_org_it_names(
    client: TestClient, org: Org, mail_catcher: MailCatcher, as_owner: psycopg.Connection
) -> None:
    send(mail_catcher, message(str(known(client, org).id)))
    rows = as_owner.execute(
        "SELECT mail_from, recipients, subject FROM caught_messages WHERE org_id = %s", (org.id,)
    ).fetchall()
    assert rows == [("recruiting@example.com", ["ada@example.com"], "Hello Ada")]


def test_a_message_without_the_org_header_is_refused(mail_catcher: MailCatcher) -> None:
    refused = refusal(mail_catcher, message(None))
    assert refused.code == 550
    assert ORG_HEADER in refused.message


def test_a_message_whose_org_header_is_no_id_is_refused(mail_catcher: MailCatcher) -> None:
    refused = refusal(mail_catcher, message("acme"))
    assert refused.code == 550
    assert "not an organization id" in refused.message


def test_a_message_for_an_unknown_org_is_refused(
    mail_catcher: MailCatcher, as_owner: psycopg.Connection
) -> None:
    unknown = uuid.uuid4()
    refused = refusal(mail_catcher, message(str(unknown)))
    assert refused.code == 550
    assert str(unknown) in refused.message
    stored = as_owner.execute("SELECT count(*) FROM caught_messages WHERE org_id = %s", (unknown,))
    assert stored.fetchone() == (0,)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The variables the catcher sets, restored (and the settings cache emptied) afterwards."""
    monkeypatch.delenv("OUTREACH_SMTP_URL", raising=False)
    monkeypatch.delenv("OUTREACH_MAIL_CATCHER", raising=False)
    yield monkeypatch
    get_settings.cache_clear()


def settings_for(port: int, smtp_url: str | None = None) -> Settings:
    return Settings(
        env="test",
        smtp_url=smtp_url,
        mail_catcher_port=port,
        _env_file=None,  # type: ignore[call-arg]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_with_no_smtp_url_the_catcher_starts_and_becomes_the_smtp_url(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls
) -> None:
    port = free_port()
    catcher = start_mail_catcher_if_needed(settings_for(port), database_urls.app)
    assert catcher is not None
    try:
        assert is_mail_catcher("127.0.0.1", port)
        assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{port}"
        settings = get_settings()
        assert (settings.smtp_url, settings.mail_catcher) == (f"smtp://127.0.0.1:{port}", True)
    finally:
        catcher.stop()
    assert not is_mail_catcher("127.0.0.1", port)


def test_with_an_smtp_url_no_catcher_starts(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls
) -> None:
    settings = settings_for(free_port(), smtp_url="smtp://smtp.example.com:587")
    assert start_mail_catcher_if_needed(settings, database_urls.app) is None
    assert "OUTREACH_SMTP_URL" not in os.environ
    assert "OUTREACH_MAIL_CATCHER" not in os.environ


def test_a_second_process_uses_the_catcher_already_running(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls, mail_catcher: MailCatcher
) -> None:
    settings = settings_for(mail_catcher.port)
    assert start_mail_catcher_if_needed(settings, database_urls.app) is None
    assert os.environ["OUTREACH_SMTP_URL"] == f"smtp://127.0.0.1:{mail_catcher.port}"
    assert os.environ["OUTREACH_MAIL_CATCHER"] == "true"


def test_a_port_taken_by_another_program_is_a_clear_error(
    clean_env: pytest.MonkeyPatch, database_urls: DatabaseUrls
) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        settings = settings_for(other.getsockname()[1])
        with pytest.raises(MailCatcherUnavailable, match="OUTREACH_MAIL_CATCHER_PORT"):
            start_mail_catcher_if_needed(settings, database_urls.app)
    assert "OUTREACH_SMTP_URL" not in os.environ
