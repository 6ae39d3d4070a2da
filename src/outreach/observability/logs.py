"""How the service logs: a timestamp on every line, readable text or JSON lines
(OUTREACH_LOG_FORMAT), and the context of each record (request id, organization, route, job)
taken from where it was logged, so that no call site passes it.

A request's context is its ASGI scope, read when a record is made: the request id
(RequestIdMiddleware), the organization (set on the request's state once its caller is known)
and the route (once routing matched it) are known only after the request came in. A job's is
its name, and the organization its fan-out is at (jobs/runs.py).
"""

import atexit
import contextlib
import logging
import logging.config
import queue
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from logging.handlers import QueueHandler, QueueListener
from typing import Any, Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from starlette.types import Scope

from outreach.kit.logs import OneLineRecords

_REQUEST: ContextVar[Scope | None] = ContextVar("outreach_log_request", default=None)
_FIELDS: ContextVar[dict[str, str]] = ContextVar("outreach_log_fields", default={})  # noqa: B039 - never mutated
CONTEXT_FIELDS = ("request_id", "org", "route", "job")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
ACCESS = logging.getLogger("outreach.access")


ROUTE_PREFIXES = "outreach.route_prefixes"


def route_of(scope: Scope) -> str | None:
    """The template of the route that matched (`/api/v1/campaigns/{campaign_id}`), if any.

    FastAPI puts the route in the scope as its router declared it, without the prefix the
    router was included under (`/campaigns/{campaign_id}`); the prefix is the one of the app's
    prefixes (RequestObservation puts them in the scope) after which the route matches the path.
    """
    route = scope.get("route")
    template: str | None = getattr(route, "path", None)
    if template is None:
        return None
    regex = getattr(route, "path_regex", None)
    path = scope["path"]
    for prefix in scope.get(ROUTE_PREFIXES, ()):
        if path.startswith(prefix) and (regex is None or regex.match(path[len(prefix) :])):
            return f"{prefix}{template}"
    return template


def request_fields(scope: Scope) -> dict[str, str]:
    state = scope.get("state") or {}
    fields = {"request_id": state.get("request_id"), "org": state.get("org_id")}
    fields["route"] = route_of(scope)
    return {name: str(value) for name, value in fields.items() if value is not None}


@contextlib.contextmanager
def request_context(scope: Scope) -> Iterator[None]:
    token = _REQUEST.set(scope)
    try:
        yield
    finally:
        _REQUEST.reset(token)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Records logged inside carry these fields too (`job=...`, `org=...`)."""
    token = _FIELDS.set({**_FIELDS.get(), **{k: str(v) for k, v in fields.items()}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


class ContextFields(logging.Filter):
    """Puts the context's fields on each record, as attributes (JSON keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _REQUEST.get()
        if scope is not None:
            record.__dict__.update(request_fields(scope))
        record.__dict__.update(_FIELDS.get())
        return True


class TextFormatter(logging.Formatter):
    """`2026-11-30 14:02:11,532 INFO outreach.x what happened [job=send_loop org=...]`"""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = [
            f"{name}={record.__dict__[name]}" for name in CONTEXT_FIELDS if name in record.__dict__
        ]
        if not context:
            return line
        # Before a traceback (its lines follow the first), not after it.
        first, newline, rest = line.partition("\n")
        return f"{first} [{' '.join(context)}]{newline}{rest}"


class BackgroundHandler(QueueHandler):
    """Hands each record to a thread that formats it and writes it to stderr: a write to a
    slow pipe or disk must not stop the event loop (measured: a JSON line per request written
    on the loop cost the pixel half its throughput on a busy machine; bench/observability.py).
    The record's context is taken here, in the caller (the filters run before the queue); a
    process that exits writes what is queued first."""

    def __init__(self) -> None:
        super().__init__(queue.SimpleQueue())
        self.target = logging.StreamHandler(sys.stderr)
        self.listener = QueueListener(self.queue, self.target)
        self.listener.start()
        self.running = True
        atexit.register(self.stop)

    def stop(self) -> None:
        """Writes what is queued, then ends the thread (once: at exit, or when a new logging
        configuration replaces this handler)."""
        if self.running:
            self.running = False
            self.listener.stop()

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        self.target.setFormatter(fmt)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Formatted in the thread; only what another thread cannot read later is fixed now.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        return record

    def close(self) -> None:
        self.stop()
        super().close()


def json_formatter() -> JsonFormatter:
    return JsonFormatter(
        "{levelname}{name}{process}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        # OneLineRecords' mark and uvicorn's colored copy of its message are not news.
        reserved_attrs=[*RESERVED_ATTRS, "one_line", "color_message"],
        timestamp=True,
    )


def logging_config(level: str, log_format: Literal["text", "json"]) -> dict[str, Any]:
    """The dictConfig of every process (uvicorn applies it in each worker it starts): one
    handler on the root logger, which uvicorn's loggers go through too."""
    formatter = {"()": json_formatter} if log_format == "json" else {"()": TextFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"outreach": formatter},
        "filters": {"context": {"()": ContextFields}, "one_line": {"()": OneLineRecords}},
        "handlers": {
            "outreach": {
                "()": BackgroundHandler,
                "formatter": "outreach",
                # The context first: OneLineRecords escapes what the message carries.
                "filters": ["context", "one_line"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["outreach"]},
        "loggers": {
            # uvicorn's own handlers would print without a timestamp; the access log is ours
            # (observability/middleware.py: it knows the route and the organization).
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "pgserver": {"level": "WARNING"},  # it narrates every pg_ctl call
            "mail.log": {"level": "WARNING"},  # aiosmtpd: every SMTP connection
            # two lines per run of every job, every few seconds; jobs/runs.py logs what a run did
            "apscheduler.executors": {"level": "WARNING"},
        },
    }


def configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    logging.config.dictConfig(logging_config(level, log_format))


def access_log_line(scope: Scope, status: int, seconds: float) -> None:
    """One line per request: method, path (percent-encoded as sent, without its query: a query
    may hold a token; a tracking link's route template), status, duration; the context adds
    request id, organization, route."""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    if path.startswith("/t/"):
        # A tracking link's token is a capability (the unsubscribe page's unsubscribes the
        # person): the route's template stands in for the path.
        path = route_of(scope) or "/t/..."
    milliseconds = round(seconds * 1000, 2)
    # One string, no arguments: the access log is the hottest line there is, and each argument
    # costs the control-character guard a pass of its own.
    ACCESS.info(
        f"{scope['method']} {path} {status} {milliseconds}ms",
        extra={"status": status, "duration_ms": milliseconds},
    )
