"""JSON nesting depth, gauged before parsing, in the pieces a body streams in."""

import pytest

from outreach.kit.jsondepth import DepthGauge, JsonTooDeep, check_depth


def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused() -> None:
    check_depth(b"[" * 3 + b"]" * 3, limit=3)
    with pytest.raises(JsonTooDeep):
        check_depth(b'{"a": [[{"b": 1}]]}', limit=3)


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    check_depth(rb'{"a": "[[[[\"{{{{\\", "b": ["\\\\"]}', limit=2)


def feed_in_pieces(text: bytes, size: int, limit: int) -> None:
    gauge = DepthGauge(limit)
    for start in range(0, len(text), size):
        gauge.feed(text[start : start + size])


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_pieces_may_split_strings_and_escapes_anywhere(size: int) -> None:
    text = rb'["a\"[[[[", "\\", "\\\"{{{{", [1]]'
    feed_in_pieces(text, size, limit=2)
    with pytest.raises(JsonTooDeep):
        feed_in_pieces(text, size, limit=1)
