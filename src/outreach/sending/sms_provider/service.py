"""SMS provider rules: managers configure the account, everyone may see it, nobody reads the
token; the send loop gets the account with its token decrypted."""

import uuid
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_manager
from outreach.auth.tokens import Principal
from outreach.errors import NotFound
from outreach.kit.targets import TargetGuard
from outreach.models import SmsProvider
from outreach.sending.secrets import SenderSecrets
from outreach.sending.senders.service import check_target
from outreach.sending.sms_provider import repository
from outreach.sending.sms_provider.schemas import SmsProviderIn, SmsProviderOut
from outreach.sending.transports.sms import SmsAccount


async def get_provider(session: AsyncSession, principal: Principal) -> SmsProviderOut:
    provider = await repository.get_provider(session, principal.org_id)
    if provider is None:
        raise not_configured()
    return provider_out(provider)


async def save_provider(
    session: AsyncSession,
    principal: Principal,
    secrets: SenderSecrets,
    guard: TargetGuard,
    body: SmsProviderIn,
) -> tuple[SmsProviderOut, bool]:
    """The configuration as saved, and whether it is new (else it replaced the previous one)."""
    require_manager(principal)
    url = urlsplit(body.base_url)
    assert url.hostname is not None  # the schema requires a host
    port = url.port or (443 if url.scheme == "https" else 80)
    await check_target(guard, "base_url", url.hostname, port)
    saved = await repository.save_provider(
        session,
        principal.org_id,
        base_url=body.base_url,
        account_sid=body.account_sid,
        auth_token_encrypted=secrets.encrypt(body.auth_token),
        from_number=body.from_number,
    )
    return provider_out(saved.provider), saved.created


async def delete_provider(session: AsyncSession, principal: Principal) -> None:
    require_manager(principal)
    if not await repository.delete_provider(session, principal.org_id):
        raise not_configured()


async def sms_account(
    session: AsyncSession, org_id: uuid.UUID, secrets: SenderSecrets
) -> SmsAccount | None:
    """The organization's account to send with, its token decrypted; None when it has none.
    Raises secrets.InvalidToken when no configured key encrypted the token."""
    provider = await repository.get_provider(session, org_id)
    if provider is None:
        return None
    return SmsAccount(
        base_url=provider.base_url,
        account_sid=provider.account_sid,
        auth_token=secrets.decrypt(provider.auth_token_encrypted),
        from_number=provider.from_number,
    )


def provider_out(provider: SmsProvider) -> SmsProviderOut:
    return SmsProviderOut(
        base_url=provider.base_url,
        account_sid=provider.account_sid,
        from_number=provider.from_number,
        has_auth_token=bool(provider.auth_token_encrypted),
        created_at=provider.created_at,
        updated_at=provider.updated_at,
    )


def not_configured() -> NotFound:
    return NotFound(
        "SMS_PROVIDER_NOT_CONFIGURED",
        "No SMS provider is configured",
        "Set one with PUT /api/v1/sms-provider.",
    )
