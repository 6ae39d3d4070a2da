"""Reading a CSV file as it arrives in chunks: the same rows however it is cut, its encoding
over the whole file, its delimiter, and the bound on a row."""

import pytest

from outreach.contacts.imports.reading import (
    MAX_ROW_CHARS,
    CsvRows,
    EncodingCheck,
    ReadingError,
    detect_delimiter,
)

TEXT = 'Email;Notes\r\nzoë@example.com;"two\r\nlines; one ""quoted"""\r\n\r\nbob@example.com;\r\n'


def read_in_pieces(data: bytes, size: int, encoding: str = "utf-8") -> list[tuple[int, list[str]]]:
    rows = CsvRows(encoding, ";")
    read: list[tuple[int, list[str]]] = []
    for start in range(0, len(data), size):
        rows.feed(data[start : start + size])
        read += [(row.line, row.values) for row in rows.read()]
    rows.feed(b"", final=True)
    read += [(row.line, row.values) for row in rows.read()]
    return read


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_rows_are_the_same_however_the_file_is_cut(size: int) -> None:
    assert read_in_pieces(TEXT.encode(), size) == [
        (2, ["zoë@example.com", 'two\r\nlines; one "quoted"']),
        (5, ["bob@example.com", ""]),
    ]


def read_whole(data: bytes) -> None:
    rows = CsvRows("utf-8", ",")
    rows.feed(data, final=True)
    list(rows.read())


def test_a_row_longer_than_the_bound_is_refused() -> None:
    rows = CsvRows("utf-8", ",")
    fields = b",".join([b"x" * 100_000] * (MAX_ROW_CHARS // 100_000 + 1))  # each under 128 KB
    with pytest.raises(ReadingError) as refused:
        rows.feed(b"Email,Notes\r\na@example.com," + fields)
    assert refused.value.code == "IMPORT_ROW_TOO_LONG"


def test_a_quote_left_open_stops_the_reading_at_its_row() -> None:
    lines = b'Email,Notes\r\na@example.com,ok\r\nb@example.com,"open\r\n'
    with pytest.raises(ReadingError) as refused:
        read_whole(lines + b"c@example.com,more\r\n" * 20_000)
    assert refused.value.code == "IMPORT_ROW_UNREADABLE"
    assert "line 3" in refused.value.message


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Zoë".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "Zoë".encode(), "utf-8-sig"),
        ("Zoë".encode("cp1252"), "cp1252"),
        (b"\x81\x8d", None),
    ],
)
def test_the_encoding_is_decided_over_the_whole_file(data: bytes, encoding: str | None) -> None:
    check = EncodingCheck()
    for byte in data:  # a character cut between two chunks is still UTF-8
        check.feed(bytes([byte]))
    check.feed(b"", final=True)
    assert check.encoding == encoding


def test_a_single_column_file_is_read_with_commas() -> None:
    assert detect_delimiter("Email\r\na@example.com\r\n") == ","
    assert detect_delimiter("Email\tName\r\na@example.com\tAda, Countess\r\n") == "\t"
