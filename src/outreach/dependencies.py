"""The app's shared pieces as typed dependencies: made once at startup (main.py) and kept on
`app.state`, given to the routes that declare them, so no route reaches into the state.
Those of one domain live in its package: the renderer (templates), the outbound guard (kit),
the token verifier (auth), the tracking signer (tracking), the event writer (events)."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings


# Async on purpose: a sync dependency would cost every request a hop to the thread pool.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Sessions of no organization, for routes that find theirs (or none) on their own."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


async def get_migration_head(request: Request) -> str | None:
    head: str | None = request.app.state.migration_head
    return head


SettingsDep = Annotated[Settings, Depends(get_settings)]
Sessionmaker = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
MigrationHead = Annotated[str | None, Depends(get_migration_head)]
