"""Log records that outside input cannot forge: a path, a header or a provider's field logged as
is could hold CR/LF and start a line of its own. Every handler gets a filter that escapes
control characters (and the Unicode line separators) in the message and its arguments, and
indents each line of a traceback, so a line at the left margin always starts a real record.
"""

import logging
import re
from collections.abc import Mapping
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TRACEBACK_MARGIN = "  | "


def escape_controls(text: str, keep: str = "") -> str:
    """`text` with each control character written as its Python escape (CR as \\r, ...)."""

    def escaped(match: re.Match[str]) -> str:
        char = match.group()
        return char if char in keep else char.encode("unicode_escape").decode("ascii")

    return _CONTROL.sub(escaped, text)


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = str(value)
    escaped = escape_controls(text)
    # Other values keep their type (for %d, %r) unless their text needs escaping.
    return escaped if isinstance(value, str) or escaped != text else value


def _indented(text: str) -> str:
    lines = escape_controls(text, keep="\n").splitlines()
    return "\n".join(_TRACEBACK_MARGIN + line for line in lines)


class OneLineRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "one_line", False):  # already seen by another handler's filter
            return True
        record.msg = _safe(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _safe(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_safe(arg) for arg in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _indented(record.exc_text)
        if record.stack_info:
            record.stack_info = _indented(record.stack_info)
        record.one_line = True
        return True


def guard_log_handlers() -> None:
    """Adds the filter to every handler configured so far (the CLI's, uvicorn's)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if not any(isinstance(f, OneLineRecords) for f in handler.filters):
                handler.addFilter(OneLineRecords())
