"""Tracking events kept on disk while the database is unreachable: one JSON line per event,
in files of a spool folder (under the data folder). A file is locked (flock) by the process
that writes or replays it, so a file nobody holds is one whose process died: the next process
to start replays it."""

import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from outreach.events.service import NewEvent
from outreach.events.state import EventType

log = logging.getLogger(__name__)

Pending = tuple[uuid.UUID, NewEvent]  # an event and its organization
_FIELDS = tuple(f.name for f in fields(NewEvent))


def _line(org_id: uuid.UUID, event: NewEvent) -> bytes:
    record = {"org_id": org_id, **{name: getattr(event, name) for name in _FIELDS}}
    return json.dumps(record, default=str).encode() + b"\n"


def _parse(line: bytes) -> Pending:
    record: dict[str, Any] = json.loads(line)
    event = NewEvent(
        **{
            **{name: record[name] for name in _FIELDS},
            "campaign_contact_id": uuid.UUID(record["campaign_contact_id"]),
            "event_type": EventType(record["event_type"]),
            "occurred_at": datetime.fromisoformat(record["occurred_at"]),
        }
    )
    return uuid.UUID(record["org_id"]), event


@dataclass
class SpoolFile:
    path: Path
    handle: IO[bytes]

    def chunks(self, size: int) -> Iterator[list[Pending]]:
        """Its events, `size` at a time; a torn last line (a crash while writing it) is
        skipped."""
        self.handle.flush()
        self.handle.seek(0)
        chunk: list[Pending] = []
        for number, line in enumerate(self.handle, start=1):
            try:
                chunk.append(_parse(line))
            except (ValueError, KeyError, TypeError):
                log.warning("skipped unreadable line %d of %s", number, self.path)
                continue
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.handle.close()  # releases the lock, after the file is gone


class Spool:
    """The events this process spilled, in the file it appends to, and the files it replays."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._appending: SpoolFile | None = None
        self.to_replay: list[SpoolFile] = []
        self.spilled = 0

    def claim_orphans(self) -> None:
        """Take the files no live process holds, to replay them."""
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.jsonl")):
            try:
                handle = path.open("r+b")
            except FileNotFoundError:  # replayed and removed by its holder meanwhile
                continue
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive and holds it
                handle.close()
                continue
            if not path.exists():  # replayed and removed by its holder meanwhile
                handle.close()
                continue
            log.warning("replaying the tracking events spooled in %s", path)
            self.to_replay.append(SpoolFile(path, handle))

    def append(self, pending: list[Pending]) -> None:
        try:
            if self._appending is None:
                self._appending = self._create()
            handle = self._appending.handle
            handle.write(b"".join(_line(org_id, event) for org_id, event in pending))
            handle.flush()  # in the kernel's hands: a crash of the process loses none of it
        except OSError:
            log.exception("lost %d tracking events: the spool cannot be written", len(pending))
            return
        self.spilled += len(pending)

    def seal(self) -> None:
        """Stop appending to the current file; it joins the files to replay."""
        if self._appending is not None:
            self.to_replay.append(self._appending)
            self._appending = None

    def close(self) -> None:
        """Let go of every file (locks released): a process started later replays them."""
        self.seal()
        for spooled in self.to_replay:
            spooled.handle.close()
        self.to_replay = []

    def _create(self) -> SpoolFile:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now().strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Locked under a name no replayer looks at, then renamed: nobody can take it first.
        temporary = self.directory / f"{name}.tmp"
        handle = temporary.open("a+b")
        fcntl.flock(handle, fcntl.LOCK_EX)
        path = temporary.rename(self.directory / f"{name}.jsonl")
        log.warning("tracking events wait in %s until they are recorded", path)
        return SpoolFile(path, handle)
