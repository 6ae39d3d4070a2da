"""SMS provider routes: the organization's account at a provider with Twilio's API shape."""

from typing import Any

from fastapi import APIRouter, Response

from outreach.auth.dependencies import CurrentPrincipal, TenantSession
from outreach.kit.problems import problem_responses
from outreach.kit.targets import OutboundGuard
from outreach.sending.senders.router import Secrets
from outreach.sending.sms_provider import service
from outreach.sending.sms_provider.schemas import SmsProviderIn, SmsProviderOut

router = APIRouter(prefix="/sms-provider", tags=["sms"])


def _responses(
    *statuses: int, codes: dict[int, list[str]] | None = None
) -> dict[int | str, dict[str, Any]]:
    if 404 in statuses:
        codes = {**(codes or {}), 404: ["SMS_PROVIDER_NOT_CONFIGURED"]}
    documented = problem_responses(*statuses, codes=codes)
    if 404 in documented:
        documented[404]["description"] = (
            "No SMS provider is configured (SMS_PROVIDER_NOT_CONFIGURED)"
        )
    return documented


@router.put(
    "",
    summary="Set the SMS provider (admins and TA managers)",
    description="Creates the organization's configuration (`201`) or replaces it (`200`). "
    "The auth token is write-only: stored encrypted, never returned. A `base_url` whose host "
    "is (or resolves to) a link-local or cloud metadata address, or in production a loopback, "
    "private or CGNAT one (unless the operator allows them), is refused with "
    "`422 TARGET_NOT_ALLOWED`; every connection checks it again.",
    response_model=SmsProviderOut,
    responses={
        201: {"description": "Created", "model": SmsProviderOut},
        **_responses(
            401,
            403,
            codes={
                422: [
                    "SMS_ACCOUNT_SID_INVALID",
                    "SMS_ACCOUNT_SID_REQUIRED",
                    "SMS_AUTH_TOKEN_REQUIRED",
                    "SMS_BASE_URL_INVALID",
                    "SMS_FROM_NUMBER_INVALID",
                    "TARGET_NOT_ALLOWED",
                ]
            },
        ),
    },
)
async def put_sms_provider(
    body: SmsProviderIn,
    response: Response,
    session: TenantSession,
    principal: CurrentPrincipal,
    secrets: Secrets,
    guard: OutboundGuard,
) -> SmsProviderOut:
    saved, created = await service.save_provider(session, principal, secrets, guard, body)
    response.status_code = 201 if created else 200
    return saved


@router.get(
    "",
    summary="Get the SMS provider",
    response_model=SmsProviderOut,
    responses=_responses(401, 404),
)
async def get_sms_provider(session: TenantSession, principal: CurrentPrincipal) -> SmsProviderOut:
    """The provider's settings; the auth token is never returned. None configured: `404
    SMS_PROVIDER_NOT_CONFIGURED`."""
    return await service.get_provider(session, principal)


@router.delete(
    "",
    summary="Remove the SMS provider (admins and TA managers)",
    status_code=204,
    response_class=Response,
    responses=_responses(401, 403, 404),
)
async def delete_sms_provider(session: TenantSession, principal: CurrentPrincipal) -> Response:
    """SMS steps fail until a provider is set again."""
    await service.delete_provider(session, principal)
    return Response(status_code=204)
