"""Answer shapes of CSV imports."""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

# Where imports answer (outreach.main mounts the API under /api/v1).
IMPORTS_PATH = "/api/v1/imports"
ImportStatus = Literal["uploading", "queued", "running", "completed", "failed"]


class ImportOut(BaseModel):
    id: uuid.UUID
    status: ImportStatus
    campaign_id: uuid.UUID | None
    file_name: str
    file_bytes: int
    file_sha256: str | None
    encoding: str | None  # as detected: utf-8, utf-8-sig (with its BOM), cp1252
    delimiter: str | None
    mapping: dict[str, str]  # each CSV header read -> the field it fills
    rows_total: int | None
    rows_done: int
    created: int
    updated: int
    skipped: int
    invalid: int
    eta_seconds: int | None
    errors_url: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def status_url(self) -> str:
        return f"{IMPORTS_PATH}/{self.id}"
