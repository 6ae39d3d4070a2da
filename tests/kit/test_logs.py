"""Outside input in a log record cannot start a line of its own."""

import io
import logging
from collections.abc import Iterator

import pytest

from outreach.kit.logs import OneLineRecords, escape_controls, guard_log_handlers

FORGED = "\r\nFAKE LOG LINE"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("tests.kit.logs")
    logger.addHandler(handler)
    logger.propagate = False
    guard_log_handlers()
    yield logger, output
    logger.removeHandler(handler)


def lines(output: io.StringIO) -> list[str]:
    return output.getvalue().replace("\r", "\n").splitlines()


def test_the_handlers_configured_so_far_get_the_filter(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, _ = logged
    assert any(isinstance(f, OneLineRecords) for f in logger.handlers[0].filters)


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("bad value %s", (FORGED,)),
        ("bad value %(value)s", ({"value": FORGED},)),
        (f"bad value{FORGED}", ()),
        ("bad value %s", (ValueError(FORGED),)),
        ("bad value %s", ("\u2028FAKE LOG LINE",)),
    ],
)
def test_a_logged_value_cannot_start_a_line(
    logged: tuple[logging.Logger, io.StringIO], message: str, args: tuple[object, ...]
) -> None:
    logger, output = logged
    logger.warning(message, *args)
    assert lines(output) == [lines(output)[0]]
    assert "FAKE LOG LINE" in output.getvalue()
    assert not any(line.startswith("FAKE") for line in output.getvalue().splitlines())


def test_a_traceback_keeps_its_lines_inside_the_margin(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, output = logged
    try:
        raise ValueError(f"outside{FORGED}")
    except ValueError:
        logger.exception("failed %d times", 3)
    first, *traceback = lines(output)
    assert first == "ERROR tests.kit.logs failed 3 times"
    assert traceback[0] == "  | Traceback (most recent call last):"
    assert all(line.startswith("  | ") for line in traceback)
    assert traceback[-2:] == ["  | ValueError: outside\\r", "  | FAKE LOG LINE"]


def test_control_characters_are_written_as_escapes() -> None:
    assert escape_controls("a\r\n\tb\x1b[31m\x85") == "a\\r\\n\\tb\\x1b[31m\\x85"
