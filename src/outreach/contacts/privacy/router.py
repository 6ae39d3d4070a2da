"""Routes of the data-subject requests (a person's export and erasure) and the audit log."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.contacts.privacy import service
from outreach.contacts.privacy.schemas import AuditEntryOut, ContactExport, ErasureOut
from outreach.kit.pagination import Cursor, Limit, Page
from outreach.kit.problems import problem_responses

router = APIRouter(tags=["data-subject requests"])


@router.get(
    "/contacts/{contact_id}/export",
    summary="Everything held about a person, as JSON (admins and TA managers)",
    description=(
        "The person's fields, tags, custom fields and score; each campaign membership with its "
        "status and engagement timestamps; every event (IP, user agent, clicked URL; the "
        "sequences' step log); the messages sent or queued; tasks; sequence walks; replies "
        "and answers; caught mail; suppressions of the address. Each list holds at most "
        f"{service.EXPORT_LIMIT:,} rows, the newest: `counts` gives the totals and `truncated` "
        "names the lists that were cut. Recorded in the audit log (`contact.exported`)."
    ),
    response_model=ContactExport,
    responses=problem_responses(401, 403, 404, 422),
)
async def export_contact(
    contact_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> ContactExport:
    return await service.export_contact(session, principal, contact_id)


@router.post(
    "/contacts/{contact_id}/erase",
    summary="Erase a person's data everywhere (admins and TA managers)",
    description=(
        "The same as `DELETE /contacts/{id}?erase=true`. The person's fields, the texts "
        "written to them or by them (outbox overrides, tasks, replies, caught mail), their "
        "events' IP, user agent and URL queries and their sequences' variables go; their "
        "pending messages and open tasks are cancelled and their walks end. What the "
        "campaigns count stays (statuses, engagement times, events), so their figures stay "
        "true. The address is kept on the do-not-contact list as a SHA-256 hash only, so the "
        "person is refused if added again. Recorded in the audit log (`contact.erased`, with "
        "counts only)."
    ),
    response_model=ErasureOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def erase_contact(
    contact_id: uuid.UUID, session: TenantSession, principal: CurrentPrincipal
) -> ErasureOut:
    return await service.erase_contact(session, principal, contact_id)


@router.get(
    "/audit-log",
    summary="The audit log, newest first (admins)",
    response_model=Page[AuditEntryOut],
    responses=problem_responses(401, 403, 422),
)
async def list_audit_entries(
    session: TenantSession,
    principal: CurrentPrincipal,
    action: Annotated[
        str | None, Query(max_length=100, description="Only this action: contact.erased")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditEntryOut]:
    """Who exported or erased which person's data, and when. Filter by `action`. Only admins may
    read it (else `403 FORBIDDEN`)."""
    return await service.list_audit_entries(
        session, principal, action=action, limit=limit, cursor=cursor
    )
