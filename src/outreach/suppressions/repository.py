"""Suppression queries."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.models import Suppression


async def suppressed_emails(session: AsyncSession, emails: list[str]) -> dict[str, str]:
    """Which of `emails` are on the organization's do-not-contact list: lowercased email to
    its reason (`unsubscribed`, `hard_bounce`, `complaint` or `manual`)."""
    if not emails:
        return {}
    lowered = sorted({email.lower() for email in emails})
    rows = await session.execute(
        select(func.lower(Suppression.email), Suppression.reason).where(
            func.lower(Suppression.email).in_(lowered)
        )
    )
    return {email: reason for email, reason in rows.tuples()}
