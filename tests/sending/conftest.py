"""Sending fixtures: a real SMTP server on loopback (aiosmtpd) that keeps what it receives and
answers what a test tells it to, and the planner and send loop run as the scheduler would."""

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from outreach.config import Settings
from outreach.db import DatabaseUrls
from tests.factories import Engine, MailSink, free_port


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def engine(settings: Settings, database_urls: DatabaseUrls) -> Engine:
    return Engine(settings, database_urls)
