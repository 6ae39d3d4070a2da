"""SMS provider queries: one row per organization, keyed by org_id."""

import uuid
from dataclasses import dataclass

from sqlalchemy import Boolean, delete, literal_column, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import SmsProvider


@dataclass(frozen=True)
class SavedProvider:
    provider: SmsProvider
    created: bool  # False: an existing configuration was replaced


async def get_provider(session: AsyncSession, org_id: uuid.UUID) -> SmsProvider | None:
    query = select(SmsProvider).where(SmsProvider.org_id == org_id)
    return (await session.execute(query)).scalar_one_or_none()


async def save_provider(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    base_url: str,
    account_sid: str,
    auth_token_encrypted: str,
    from_number: str,
) -> SavedProvider:
    values = {
        "base_url": base_url,
        "account_sid": account_sid,
        "auth_token_encrypted": auth_token_encrypted,
        "from_number": from_number,
    }
    statement = (
        insert(SmsProvider)
        .values(org_id=org_id, **values)
        .on_conflict_do_update(index_elements=[SmsProvider.org_id], set_=values)
        # xmax is 0 on a row this statement inserted, the updating transaction's id otherwise
        .returning(SmsProvider, literal_column("xmax = 0", Boolean).label("created"))
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(statement)).one()
    provider, created = row
    return SavedProvider(provider, bool(created))


async def delete_provider(session: AsyncSession, org_id: uuid.UUID) -> bool:
    deleted = await session.execute(
        delete(SmsProvider).where(SmsProvider.org_id == org_id).returning(SmsProvider.org_id)
    )
    return deleted.first() is not None
