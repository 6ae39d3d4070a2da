"""Reading an uploaded CSV file as it arrives in chunks: its encoding, its delimiter, its header
mapped to contact fields, and its rows, each with the line it starts on, in bounded memory."""

import codecs
import csv
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from outreach.contacts.schemas import ContactIn

CHUNK_BYTES = 1024 * 1024
# A row (with its quoted line breaks) is read whole from what is buffered: at least this much
# text stays buffered ahead of the reader while the file goes on, so no row may be longer.
MAX_ROW_CHARS = CHUNK_BYTES
MAX_COLUMNS = 200
# The raw text of a problem row kept for the errors CSV.
MAX_RAW_CHARS = 2000
DELIMITERS = ",;\t|"
SNIFF_CHARS = 64 * 1024
BOM = codecs.BOM_UTF8

# Fields a column may fill; `custom_fields.<name>` fills one custom field.
FIELDS = frozenset(ContactIn.model_fields) - {"custom_fields"}
CUSTOM_FIELDS_TARGET = "custom_fields."
# A header's usual names, compared without case, spaces, underscores, hyphens or dots.
ALIASES: dict[str, str] = {
    **{name.replace("_", ""): name for name in FIELDS},
    "emailaddress": "email",
    "mail": "email",
    "workemail": "email",
    "first": "first_name",
    "givenname": "first_name",
    "last": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "linkedin": "linkedin_url",
    "linkedinprofile": "linkedin_url",
    "linkedinprofileurl": "linkedin_url",
    "company": "company_name",
    "companyname": "company_name",
    "employer": "company_name",
    "organization": "company_name",
    "jobtitle": "title",
    "position": "title",
    "phonenumber": "phone",
    "mobile": "phone",
    "telephone": "phone",
    "tag": "tags",
    "tier": "lead_tier",
    "tz": "timezone",
    "type": "contact_type",
}
_NOT_IN_NAMES = re.compile(r"[\s_\-.]+")
_TAG_SEPARATORS = re.compile(r"[;,]")


class ReadingError(Exception):
    """The file cannot be read as a CSV of contacts; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def detect_delimiter(sample: str) -> str:
    """The delimiter of the first lines among `DELIMITERS` (a comma when the sample has one
    column or cannot tell)."""
    lines = sample[:SNIFF_CHARS]
    if len(sample) > SNIFF_CHARS and "\n" in lines:
        lines = lines[: lines.rindex("\n")]
    try:
        return csv.Sniffer().sniff(lines, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


class EncodingCheck:
    """Which encoding the whole file is in, fed chunk by chunk: UTF-8 (with or without its
    BOM) when every byte decodes strictly as UTF-8, else Windows-1252 when it decodes, else
    none."""

    def __init__(self) -> None:
        self._utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8")()
        self._cp1252: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("cp1252")()
        self._first = b""

    def feed(self, data: bytes, final: bool = False) -> None:
        if len(self._first) < len(BOM):
            self._first += data[: len(BOM)]
        for name in ("_utf8", "_cp1252"):
            decoder = getattr(self, name)
            if decoder is None:
                continue
            try:
                decoder.decode(data, final)
            except UnicodeDecodeError:
                setattr(self, name, None)

    @property
    def encoding(self) -> str | None:
        if self._utf8 is not None:
            return "utf-8-sig" if self._first.startswith(BOM) else "utf-8"
        return "cp1252" if self._cp1252 is not None else None


def decode_sample(data: bytes) -> str:
    """The start of a file as text, before its encoding is known (the header, for the checks
    made while it uploads)."""
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data)
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class LineFeed:
    """Lines of text (each ending with its `\\n`) for the csv module, fed with decoded text as
    chunks arrive. Split on `\\n` only: the csv module finds the rest (quoted line breaks,
    `\\r\\n`). `wants_more` says when less than a row's bound is buffered ahead."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._partial = ""
        self._buffered = 0
        self.ended = False

    def feed(self, text: str, final: bool = False) -> None:
        *complete, self._partial = (self._partial + text).split("\n")
        for line in complete:
            self._lines.append(line + "\n")
            self._buffered += len(line) + 1
        if final:
            if self._partial:
                self._lines.append(self._partial)
                self._buffered += len(self._partial)
                self._partial = ""
            self.ended = True
        elif len(self._partial) > MAX_ROW_CHARS:
            raise _row_too_long()

    @property
    def wants_more(self) -> bool:
        return not self.ended and self._buffered < MAX_ROW_CHARS

    def __iter__(self) -> "LineFeed":
        return self

    def __next__(self) -> str:
        if not self._lines:
            if self.ended:
                raise StopIteration
            raise _row_too_long()
        line = self._lines.popleft()
        self._buffered -= len(line)
        return line


def _row_too_long() -> ReadingError:
    return ReadingError("IMPORT_ROW_TOO_LONG", f"A row is longer than {MAX_ROW_CHARS:,} characters")


@dataclass(frozen=True)
class Row:
    """One data row: its number among the data rows (from 1), the file's line it starts on,
    its values, and its text for the errors CSV."""

    number: int
    line: int
    values: list[str]
    raw: str


@dataclass
class CsvRows:
    """The rows of a file fed chunk by chunk (`feed`), read while `wants_more` is false, so a
    row never straddles what has arrived. The header is the first row."""

    encoding: str
    delimiter: str
    feed_lines: LineFeed = field(default_factory=LineFeed)
    header: list[str] | None = None
    rows_read: int = 0

    def __post_init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder(self.encoding)()
        self._reader = csv.reader(self.feed_lines, delimiter=self.delimiter)

    def feed(self, data: bytes, final: bool = False) -> None:
        self.feed_lines.feed(self._decoder.decode(data, final), final)

    @property
    def wants_more(self) -> bool:
        return self.feed_lines.wants_more

    def read(self) -> Iterator[Row]:
        """The rows available now (the header is kept aside, not given)."""
        while not self.wants_more:
            start = self._reader.line_num + 1
            try:
                values = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # A field over the csv module's limit (128 KB) is most often a quote left
                # open, which swallowed the rows after it: the rest of the file cannot be
                # trusted.
                raise ReadingError(
                    "IMPORT_ROW_UNREADABLE", f"The row on line {start} cannot be read: {exc}"
                ) from None
            if self.header is None:
                self.header = values
                continue
            if not any(value.strip() for value in values):
                continue  # a blank line
            self.rows_read += 1
            raw = self.delimiter.join(values)[:MAX_RAW_CHARS]
            yield Row(self.rows_read, start, values, raw)


# -- the header --------------------------------------------------------------------------


def _alias(name: str) -> str:
    return _NOT_IN_NAMES.sub("", name).lower()


def _known_target(target: str) -> bool:
    if target.startswith(CUSTOM_FIELDS_TARGET):
        name = target.removeprefix(CUSTOM_FIELDS_TARGET)
        return 0 < len(name) <= 64 and name.isprintable()
    return target in FIELDS


def map_header(header: list[str], explicit: Mapping[str, str]) -> dict[int, str]:
    """Each column's field by its position: the explicit mapping's (header -> field) first,
    else the column's usual name; columns of neither are ignored. Refuses what the mapping
    names and the file lacks, fields that do not exist, a field filled twice, a file with no
    column any field takes."""
    if len(header) > MAX_COLUMNS:
        raise ReadingError("IMPORT_TOO_MANY_COLUMNS", f"At most {MAX_COLUMNS} columns")
    names = [name.strip() for name in header]
    for column, target in explicit.items():
        if column.strip() not in names:
            raise ReadingError(
                "IMPORT_MAPPING_COLUMN_UNKNOWN", f"The file has no column named {column!r}"
            )
        if not _known_target(target):
            raise ReadingError(
                "IMPORT_MAPPING_FIELD_UNKNOWN",
                f"{target!r} is not a contact field (nor {CUSTOM_FIELDS_TARGET}<name>)",
            )
    given = {column.strip(): target for column, target in explicit.items()}
    mapped: dict[int, str] = {}
    for position, name in enumerate(names):
        found = given.get(name) or ALIASES.get(_alias(name))
        if found is None:
            continue
        target = found
        if target in mapped.values():
            raise ReadingError(
                "IMPORT_MAPPING_FIELD_TWICE", f"Two columns fill {target}: map one of them"
            )
        mapped[position] = target
    if not mapped:
        raise ReadingError(
            "IMPORT_HEADER_MISSING",
            "The first row names no contact field (email, first_name, ...): add a header row "
            "or a mapping",
        )
    return mapped


def contact_of(values: list[str], mapping: Mapping[int, str]) -> dict[str, Any]:
    """The row as the JSON bulk add takes a contact: empty cells left out, tags split on `;`
    or `,`, custom fields gathered."""
    contact: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for position, target in mapping.items():
        value = values[position].strip() if position < len(values) else ""
        if not value:
            continue
        if target.startswith(CUSTOM_FIELDS_TARGET):
            custom[target.removeprefix(CUSTOM_FIELDS_TARGET)] = value
        elif target == "tags":
            contact["tags"] = [tag.strip() for tag in _TAG_SEPARATORS.split(value) if tag.strip()]
        else:
            contact[target] = value
    if custom:
        contact["custom_fields"] = custom
    return contact
