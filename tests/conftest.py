"""Test fixtures: a fresh PostgreSQL database per run, migrated, and the app served over ASGI.

The database comes from OUTREACH_TEST_ADMIN_URL (a superuser URL, e.g. the local server) or,
when unset, from the embedded PostgreSQL under .data/test-postgres. Each test works in
organizations of its own (fresh UUIDs), so tests never see each other's rows: row-level
security keeps them apart, the same way it keeps customers apart.
"""

from collections.abc import Iterator

import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.embedded import MailCatcher
from outreach.kit.dburls import libpq_url
from outreach.main import create_app
from tests.databases import migrated_database
from tests.factories import Engine, MailSink, Org, Walker, free_port
from tests.problem_codes import LEDGER


@pytest.fixture(scope="session")
def database_urls() -> Iterator[DatabaseUrls]:
    with migrated_database() as urls:
        yield urls


@pytest.fixture(scope="session")
def settings(database_urls: DatabaseUrls) -> Settings:
    # The jobs are called by their tests: a scheduler of the test app would race them.
    return Settings(env="test", database_url=database_urls.app, run_jobs=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def client(settings: Settings, database_urls: DatabaseUrls) -> Iterator[TestClient]:
    app = create_app(settings, database_urls)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        LEDGER.watch(test_client, app.openapi())
        yield test_client


def pytest_sessionfinish(session: pytest.Session) -> None:
    if LEDGER.undocumented:
        listed = "\n  ".join(sorted(LEDGER.undocumented))
        print(f"\n\nProblems answered but not in the OpenAPI document:\n  {listed}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def org(settings: Settings) -> Org:
    return Org(settings)


@pytest.fixture
def other_org(settings: Settings) -> Org:
    return Org(settings)


@pytest.fixture
def as_app(database_urls: DatabaseUrls) -> Iterator[psycopg.Connection]:
    """A plain connection as the application role: what row-level security holds."""
    with psycopg.connect(libpq_url(database_urls.app), autocommit=True) as conn:
        yield conn


@pytest.fixture
def as_owner(database_urls: DatabaseUrls) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(database_urls.owner), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def mail_catcher(database_urls: DatabaseUrls) -> Iterator[MailCatcher]:
    """The embedded mail catcher on a free loopback port, writing as the application role."""
    catcher = MailCatcher(database_urls.app, port=0)
    catcher.start()
    yield catcher
    catcher.stop()


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives and answers what
    a test tells it to."""
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def engine(settings: Settings, database_urls: DatabaseUrls) -> Engine:
    """The planner and the send loop, run as the scheduler would."""
    return Engine(settings, database_urls)


@pytest.fixture
def walker(settings: Settings, database_urls: DatabaseUrls) -> Walker:
    """The workflow engine, with a clock the test moves."""
    return Walker(settings, database_urls)
