"""The import's `multipart/form-data` body, parsed as it streams in (python-multipart's
streaming parser, the one Starlette's forms use): the file's bytes are handed on as they
arrive, never held whole; the small `mapping` field is kept."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from outreach.contacts.imports.reading import ReadingError

MAX_MAPPING_BYTES = 64 * 1024
MAX_MAPPING_ENTRIES = 200
FILE_READ_BYTES = 256 * 1024


def _not_multipart(detail: str) -> ReadingError:
    return ReadingError("IMPORT_NOT_MULTIPART", detail)


def parse_mapping(raw: bytes | str) -> dict[str, str]:
    """The `mapping` field: a JSON object of CSV header -> field name."""
    try:
        mapping: Any = json.loads(raw)
    except ValueError:
        mapping = None
    if (
        not isinstance(mapping, dict)
        or len(mapping) > MAX_MAPPING_ENTRIES
        or not all(isinstance(v, str) and k.strip() for k, v in mapping.items())
    ):
        raise ReadingError(
            "IMPORT_MAPPING_INVALID",
            f"mapping must be a JSON object of at most {MAX_MAPPING_ENTRIES} CSV headers, each "
            'to a field name, e.g. {"E-mail": "email", "Team": "custom_fields.team"}',
        )
    return mapping


class StreamedForm:
    """The form of one request: iterate `file_data()` to the end (the whole body is read),
    then `file_name`, `found_file` and `mapping` tell the rest."""

    def __init__(self, content_type: str, body: AsyncIterator[bytes]) -> None:
        media_type, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if media_type != b"multipart/form-data" or not boundary:
            raise _not_multipart("Send the file as multipart/form-data, in the field `file`")
        self._body = body
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_part_data": self._on_part_data,
                "on_end": self._on_end,
            },
        )
        self._header_name = b""
        self._header_value = b""
        self._part: str | None = None
        self._received = bytearray()
        self._mapping = bytearray()
        self._ended = False
        self.file_name = ""
        self.found_file = False

    def _on_part_begin(self) -> None:
        self._part = None

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            _, options = parse_options_header(self._header_value)
            name = options.get(b"name", b"").decode("utf-8", "replace")
            if name == "file" and not self.found_file:
                self.found_file = True
                self._part = "file"
                self.file_name = options.get(b"filename", b"").decode("utf-8", "replace")[:255]
            elif name == "mapping":
                self._part = "mapping"
        self._header_name = self._header_value = b""

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "file":
            self._received += data[start:end]
        elif self._part == "mapping":
            self._mapping += data[start:end]
            if len(self._mapping) > MAX_MAPPING_BYTES:
                raise ReadingError(
                    "IMPORT_MAPPING_INVALID", f"mapping must stay under {MAX_MAPPING_BYTES} bytes"
                )

    def _on_end(self) -> None:
        self._ended = True

    async def file_data(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; the other fields are parsed on the way."""
        async for received in self._body:
            try:
                self._parser.write(received)
            except FormParserError as exc:
                raise _not_multipart(f"The multipart body cannot be read: {exc}") from exc
            if self._received:
                data = bytes(self._received)
                self._received.clear()
                yield data
        if not self._ended:
            raise _not_multipart("The multipart body ended before its closing boundary")

    @property
    def mapping(self) -> dict[str, str]:
        return parse_mapping(bytes(self._mapping)) if self._mapping else {}


class FileSource:
    """A file of this machine as an upload (the `outreach import` command)."""

    found_file = True

    def __init__(self, path: Path, mapping: dict[str, str]) -> None:
        self.path = path
        self.file_name = path.name[:255]
        self.mapping = mapping

    async def file_data(self) -> AsyncIterator[bytes]:
        with self.path.open("rb") as file:
            while data := file.read(FILE_READ_BYTES):
                yield data
