"""Routes of CSV imports: the upload into a campaign or the organization's people, the
import's progress, and the CSV of the rows it did not take."""

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession, TenantTransactions
from outreach.contacts.imports import service
from outreach.contacts.imports.form import StreamedForm
from outreach.contacts.imports.reading import ReadingError
from outreach.contacts.imports.schemas import ImportOut
from outreach.kit.problems import problem_responses

router = APIRouter(tags=["imports"])

IMPORT_CODES = [
    "IMPORT_ENCODING_UNKNOWN",
    "IMPORT_FILE_EMPTY",
    "IMPORT_FILE_MISSING",
    "IMPORT_HEADER_MISSING",
    "IMPORT_MAPPING_COLUMN_UNKNOWN",
    "IMPORT_MAPPING_FIELD_TWICE",
    "IMPORT_MAPPING_FIELD_UNKNOWN",
    "IMPORT_MAPPING_INVALID",
    "IMPORT_NOT_MULTIPART",
    "IMPORT_TOO_MANY_COLUMNS",
]

UPLOAD_DESCRIPTION = (
    "`multipart/form-data` with the CSV file in `file` and, optionally, `mapping`: a JSON "
    'object of CSV header -> field (`{"E-mail": "email", "Team": "custom_fields.team"}`). '
    "Headers not in the mapping are matched by their usual names (First Name, E-mail, "
    "LinkedIn, Company Name, Job Title, Tags, Lead Tier, ...; case, spaces and underscores "
    "aside); other columns are ignored. UTF-8 (with or without BOM) and Windows-1252 are read, "
    "the delimiter (`,` `;` tab `|`) is detected. The file is stored as it streams in, up to "
    "OUTREACH_IMPORT_MAX_BYTES (413 PAYLOAD_TOO_LARGE over it), and imported in the background: "
    "`202` with the import, its progress at `Location`. Refused with nothing kept (422): "
    "IMPORT_NOT_MULTIPART, IMPORT_FILE_MISSING, IMPORT_FILE_EMPTY, IMPORT_ENCODING_UNKNOWN, "
    "IMPORT_HEADER_MISSING, IMPORT_TOO_MANY_COLUMNS, IMPORT_MAPPING_INVALID, "
    "IMPORT_MAPPING_COLUMN_UNKNOWN, IMPORT_MAPPING_FIELD_UNKNOWN, IMPORT_MAPPING_FIELD_TWICE."
)
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "mapping": {"type": "string", "description": "JSON object"},
                    },
                }
            }
        },
    }
}


async def _upload(
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    campaign_id: uuid.UUID | None,
) -> Response:
    try:
        form = StreamedForm(request.headers.get("content-type", ""), request.stream())
    except ReadingError as exc:
        raise service.refused(exc) from None
    settings = request.app.state.settings
    answer = await service.upload(session, principal, campaign_id, form, settings.import_max_bytes)
    return Response(
        answer.model_dump_json(),
        status_code=202,
        media_type="application/json",
        headers={"Location": answer.status_url},
    )


@router.post(
    "/campaigns/{campaign_id}/contacts/import",
    summary="Import a CSV file of any size into the campaign",
    description=UPLOAD_DESCRIPTION,
    status_code=202,
    response_model=ImportOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        413,
        422,
        codes={
            409: ["CAMPAIGN_READ_ONLY"],
            422: IMPORT_CODES,
        },
    ),
    openapi_extra=UPLOAD_BODY,
)
async def import_into_campaign(
    campaign_id: uuid.UUID,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
) -> Response:
    return await _upload(request, session, principal, campaign_id)


@router.post(
    "/contacts/import",
    summary="Import a CSV file of any size into the organization's contacts",
    description=UPLOAD_DESCRIPTION,
    status_code=202,
    response_model=ImportOut,
    responses=problem_responses(
        401,
        403,
        413,
        422,
        codes={422: IMPORT_CODES},
    ),
    openapi_extra=UPLOAD_BODY,
)
async def import_into_org(
    request: Request, session: TenantSession, principal: CurrentPrincipal
) -> Response:
    return await _upload(request, session, principal, None)


@router.get(
    "/imports/{import_id}",
    summary="An import's progress: rows done of the total, counts, ETA",
    response_model=ImportOut,
    responses=problem_responses(401, 404),
)
async def get_import(import_id: uuid.UUID, session: TenantSession) -> ImportOut:
    """Status `queued`, `running`, `completed` or `failed`; rows done of the total; created,
    updated, skipped and invalid counts; an estimate of the time left; and `errors_url` for the CSV
    of the rows not imported."""
    return await service.get_import(session, import_id)


@router.get(
    "/imports/{import_id}/errors.csv",
    summary="The rows the import did not take (invalid, skipped), with their codes, as CSV",
    description="Columns: row (the file's line the row starts on), outcome, codes "
    "(space-separated), message, raw (the row as read, cut at 2,000 characters).",
    response_class=StreamingResponse,
    responses={
        **problem_responses(401, 404),
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
    },
)
async def get_import_errors(
    import_id: uuid.UUID, transactions: TenantTransactions
) -> StreamingResponse:
    async with transactions() as session:
        await service.get_import(session, import_id)

    async def rows() -> Any:
        async with transactions() as session:
            async for text in service.errors_csv(session, import_id):
                yield text

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )
