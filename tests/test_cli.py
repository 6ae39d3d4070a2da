"""`outreach serve` and `outreach worker` as real processes: where the links in their mail
point, what refuses to start, what outside input can do to their log, how big a body may be."""

import argparse
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from outreach.auth.tokens import Role
from outreach.cli import build_parser
from outreach.db import DatabaseUrls
from tests.factories import Org, autopilot_campaign_all_week
from tests.served import ANSWERS_ON, OUTREACH, Served, environment, run, serve

MAX_BODY_BYTES = 100_000
FORGED = "\r\nFAKE LOG LINE"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def env(database_urls: DatabaseUrls, folder: Path) -> dict[str, str]:
    return environment(
        database_urls,
        folder / "data",
        OUTREACH_PLAN_MINUTES="0.02",
        OUTREACH_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
    )


@pytest.fixture(scope="module")
def served(env: dict[str, str], folder: Path) -> Iterator[Served]:
    with serve(env, folder, "--access-log") as running:
        yield running


@pytest.fixture
def api(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=10) as client:
        yield client


def caught_mail(api: httpx.Client, org: Org, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = api.get("/api/v1/mail-catcher/messages", headers=org.headers()).json()["items"]
        if items:
            message = api.get(
                f"/api/v1/mail-catcher/messages/{items[0]['id']}", headers=org.headers()
            )
            return dict(message.json())
        time.sleep(0.2)
    raise AssertionError("no mail was caught")


def test_links_in_mail_point_at_the_port_the_service_listens_on(
    served: Served, api: httpx.Client, org: Org, as_owner: psycopg.Connection
) -> None:
    port = urlsplit(served.url).port
    assert port not in (None, 8000)  # --port 0: the port the system picked
    client: Any = api  # the builders take any httpx client
    body = "Hi {{first_name}}, see https://example.com"
    campaign = autopilot_campaign_all_week(client, org, as_owner, 1, body_text=body)
    activated = api.post(f"/api/v1/campaigns/{campaign['id']}/activate", headers=org.headers())
    assert activated.status_code == 200, activated.text

    message = caught_mail(api, org)
    links = set(re.findall(r"https?://[^\s\"'<>]+", message["html"] + message["text"]))
    ours = {link for link in links if "/t/" in link}
    assert {urlsplit(link).path[:5] for link in ours} >= {"/t/o/", "/t/c/", "/t/u/"}
    assert all(link.startswith(f"{served.url}/t/") for link in ours)
    assert not any("127.0.0.1:8000" in link for link in links)


def test_the_worker_links_to_the_address_serve_listens_on(
    served: Served, env: dict[str, str], folder: Path
) -> None:
    with subprocess.Popen(  # noqa: S603 - our own command
        [OUTREACH, "worker"], env=env, cwd=folder, stdout=subprocess.PIPE, text=True
    ) as worker:
        assert worker.stdout is not None
        started = next(line for line in worker.stdout if "worker running" in line)
        worker.terminate()
    assert f"links to {served.url};" in started


def test_the_worker_refuses_to_start_without_a_public_url_or_a_running_serve(
    database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    refused = run(["worker"], environment(database_urls, tmp_path / "data"), tmp_path)
    assert refused.returncode == 2
    assert "OUTREACH_PUBLIC_URL is unset and no `outreach serve`" in refused.stderr


def test_every_command_line_option_says_what_it_is_for() -> None:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in commands.choices.items():
        for option in command._actions:
            if not isinstance(option, argparse._HelpAction):
                assert option.help, f"outreach {name} {option.dest} has no help"


def test_token_help_says_what_each_role_may_do() -> None:
    shown = run(["token", "--help"], {**os.environ}, Path.cwd())
    assert shown.returncode == 0
    for role in Role:
        assert re.search(rf"^  {role.value} +\w", shown.stdout, re.MULTILINE), role
    assert "audit log" in shown.stdout
    assert "--email" in shown.stdout
    assert "completion summar" in shown.stdout


def test_serve_says_its_port_is_taken_and_what_to_do(
    database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    with socket.socket() as holder:  # another program listening on the port
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        refused = run(
            ["serve", "--port", str(port)], environment(database_urls, tmp_path / "data"), tmp_path
        )
    assert refused.returncode == 2
    assert f"port {port} on 127.0.0.1 is taken" in refused.stderr
    assert "--port 0" in refused.stderr
    # checked first: nothing announced, nothing migrated, no traceback
    assert ANSWERS_ON not in refused.stdout
    assert "applying migrations" not in refused.stdout
    assert "Traceback" not in refused.stderr


def test_production_refuses_to_start_without_a_public_url(
    database_urls: DatabaseUrls, tmp_path: Path
) -> None:
    env = environment(
        database_urls,
        tmp_path / "data",
        OUTREACH_ENV="production",
        OUTREACH_SMTP_URL="smtp://127.0.0.1:25",
        OUTREACH_JWT_SECRET="a-real-production-jwt-secret-0123456789-abcdef",
        OUTREACH_TRACKING_SECRETS=json.dumps(["a-real-production-tracking-secret-0123456789"]),
        OUTREACH_SENDER_SECRET_KEYS=json.dumps([Fernet.generate_key().decode()]),
    )
    refused = run(["serve", "--port", "0"], env, tmp_path)
    assert refused.returncode != 0
    assert "OUTREACH_PUBLIC_URL is unset: set it to" in refused.stderr


def test_outside_input_cannot_start_a_line_of_the_log(
    served: Served, api: httpx.Client, org: Org
) -> None:
    api.get("/api/v1/%0D%0AFAKE%20LOG%20LINE")  # uvicorn's access log keeps the path encoded
    hook = api.post("/api/v1/inbound/secrets", headers=org.headers()).json()["webhook_urls"]["ses"]
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Message": "confirm",
        "SubscribeURL": f"https://sns.us-west-2.amazonaws.com/?Action=Confirm{FORGED}",
    }
    logged = api.post(
        hook, content=json.dumps(confirmation), headers={"Content-Type": "text/plain"}
    )
    assert logged.status_code == 200, logged.text

    deadline = time.monotonic() + 10
    while "FAKE LOG LINE" not in served.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    (warning,) = [line for line in served.log_lines() if "FAKE LOG LINE" in line]
    # Every line starts with its time: 2026-11-30 14:02:11,532 WARNING ...
    assert re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING outreach.inbound.service "
        "confirm the SNS subscription",
        warning,
    ), warning
    assert not [line for line in served.log_lines() if line.startswith("FAKE")]


def test_a_chunked_body_over_the_limit_is_refused_while_it_still_streams(
    served: Served, org: Org
) -> None:
    url = urlsplit(served.url)
    head = (
        f"POST /api/v1/campaigns HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: {org.headers()['Authorization']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b'{"name": "' + b"a" * 10_000
    with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
        conn.sendall(head.encode())
        # More than the limit, and never the last chunk: the body is not complete
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            conn.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        answer = ""
        while "PAYLOAD_TOO_LARGE" not in answer and (received := conn.recv(65536)):
            answer += received.decode()
    assert answer.startswith("HTTP/1.1 413 ")
    assert "application/problem+json" in answer
    assert '"code":"PAYLOAD_TOO_LARGE"' in answer
