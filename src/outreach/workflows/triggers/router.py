"""Enrollment routes: enroll campaign contacts by API (the manual trigger), the webhook trigger
(a signed URL, no user token) and the route that gives that URL out."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.contacts.schemas import CONTACT_FIELD_CODES
from outreach.dependencies import Sessionmaker, SettingsDep
from outreach.kit.idempotency import IdempotencyKey, idempotent
from outreach.kit.problems import problem_responses
from outreach.workflows.enrollments.schemas import EnrollIn, EnrollOut
from outreach.workflows.triggers import service
from outreach.workflows.triggers.schemas import TriggerUrlOut, WebhookTriggerIn, WebhookTriggerOut

router = APIRouter(tags=["sequences"])


@router.post(
    "/campaigns/{campaign_id}/enrollments",
    summary="Enroll campaign contacts in the campaign's sequence, with a result per id",
    description=(
        "`contact_ids` (up to 1,000 campaign contact ids) or `all: true` (every contact not yet "
        "enrolled). A contact is started as the planner starts contacts (its channel chosen by "
        "the campaign's allocation and tier rules, within the lead limits) and its walk begins "
        "at once at the trigger of the latest published version (a changed draft is published "
        "first); in a paused campaign the walk waits paused until it resumes. Each id is "
        "`enrolled` (with its `enrollment_id`), `already_enrolled` (ENROLLMENT_EXISTS), "
        "`not_found` (CONTACT_NOT_FOUND: not a contact of this campaign) or `not_enrollable` "
        "(CONTACT_UNSUBSCRIBED, CONTACT_BOUNCED, CONTACT_SUPPRESSED, CONTACT_UNREACHABLE; not "
        "now: CAMPAIGN_LEAD_LIMIT_REACHED, ENROLLMENT_DEFERRED). The campaign must be active or "
        "paused (409 CAMPAIGN_NOT_ACTIVE); the caller must be allowed to change it. Body codes: "
        "ENROLLMENT_TARGET_INVALID, ENROLLMENT_BATCH_EMPTY, ENROLLMENT_BATCH_TOO_LARGE (422)."
    ),
    response_model=EnrollOut,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        codes={
            409: ["CAMPAIGN_NOT_ACTIVE"],
            422: [
                "CONTACT_EMAIL_REQUIRED",
                "CONTACT_FIELD_NOT_UPDATABLE",
                "CONTACT_LINKEDIN_URL_REQUIRED",
                "CONTACT_NOT_FOUND",
                "ENROLLMENT_BATCH_EMPTY",
                "ENROLLMENT_BATCH_TOO_LARGE",
                "ENROLLMENT_FOLLOW_WITHOUT_SEGMENT",
                "ENROLLMENT_TARGET_INVALID",
            ],
        },
    ),
)
async def enroll_contacts(
    campaign_id: uuid.UUID,
    body: EnrollIn,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = datetime.now(UTC)
    return await idempotent(
        session,
        request,
        idempotency_key,
        lambda: service.enroll_by_api(session, principal, campaign_id, body, settings, now),
        status_code=200,
    )


@router.post(
    "/triggers/{campaign_id}/{token}",
    summary="Enroll the contact the body names (a campaign's signed webhook trigger URL)",
    description=(
        "No user token: the URL's token is the credential (see `GET /campaigns/{id}/trigger`). "
        "The body names the contact by `contact_id` (a campaign contact) or by `email` with the "
        "person's other fields, found or created and added to the campaign as "
        "`POST /campaigns/{id}/contacts` would. Answers 202 with the enrollment (`status` "
        "`already_enrolled` when the contact was enrolled before: a retried call is harmless). "
        "A token that does not verify: 404. Codes: TRIGGER_NOT_WEBHOOK, CAMPAIGN_NOT_ACTIVE, "
        "CONTACT_UNSUBSCRIBED, CONTACT_BOUNCED, CONTACT_SUPPRESSED (409); CONTACT_NOT_FOUND "
        "(404); TRIGGER_CONTACT_REQUIRED, TRIGGER_CONTACT_FIELDS_WITH_ID and the contact "
        "fields' codes (422); RATE_LIMITED (429, per campaign per minute)."
    ),
    status_code=202,
    response_model=WebhookTriggerOut,
    responses=problem_responses(
        404,
        409,
        422,
        429,
        codes={
            404: ["CONTACT_NOT_FOUND"],
            409: [
                "CAMPAIGN_LEAD_LIMIT_REACHED",
                "CAMPAIGN_NOT_ACTIVE",
                "CONTACT_BOUNCED",
                "CONTACT_SUPPRESSED",
                "CONTACT_UNSUBSCRIBED",
                "CONTACT_UNREACHABLE",
                "ENROLLMENT_DEFERRED",
                "ENROLLMENT_EXISTS",
                "TRIGGER_NOT_WEBHOOK",
            ],
            422: [
                *CONTACT_FIELD_CODES,
                "CONTACT_EMAIL_REQUIRED",
                "CONTACT_FIELD_NOT_UPDATABLE",
                "CONTACT_LINKEDIN_URL_REQUIRED",
                "CONTACT_NOT_FOUND",
                "CONTACT_TYPE_MISMATCH",
                "TRIGGER_CONTACT_FIELDS_WITH_ID",
                "TRIGGER_CONTACT_REQUIRED",
            ],
        },
    ),
)
async def webhook_trigger(
    campaign_id: uuid.UUID,
    token: Annotated[str, Path(max_length=100)],
    body: WebhookTriggerIn,
    sessionmaker: Sessionmaker,
    settings: SettingsDep,
) -> WebhookTriggerOut:
    return await service.enroll_by_webhook(
        sessionmaker,
        campaign_id,
        token,
        body,
        settings=settings,
        now=datetime.now(UTC),
    )


@router.get(
    "/campaigns/{campaign_id}/trigger",
    summary="The campaign's signed webhook trigger URL (for those who may change the campaign)",
    description=(
        "The URL enrolls contacts while the published version's trigger is `webhook` "
        "(`trigger_type` says which it is). Keep it secret: it is the only credential."
    ),
    response_model=TriggerUrlOut,
    responses=problem_responses(401, 403, 404),
)
async def get_trigger_url(
    campaign_id: uuid.UUID,
    request: Request,
    session: TenantSession,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> TriggerUrlOut:
    base_url = settings.public_url or str(request.base_url).rstrip("/")
    return await service.trigger_url(session, principal, campaign_id, base_url)
