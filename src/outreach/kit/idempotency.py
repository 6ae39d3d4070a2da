"""Idempotency-Key for creating POSTs, scoped per user (of an organization), kept 24 hours:
two users sending the same key make two requests, and neither sees the other's answer.

The key is claimed inside the request's own transaction with a transaction-scoped advisory
lock: a second request with the same key while the first runs gets 409; once the first has
committed, its stored answer is replayed. The answer is stored in the same transaction as the
work it describes, so either both happen or neither does; a failed request leaves no key behind.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.errors import Conflict, ValidationFailed
from outreach.kit.locks import try_advisory_xact_lock

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Replays the first answer for 24 h when the same request is sent again",
    ),
]

REPLAYED_HEADER = "Idempotent-Replayed"


async def _request_hash(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.url.path.encode())
    digest.update(await request.body())
    return digest.hexdigest()


async def idempotent(
    session: AsyncSession,
    request: Request,
    key: str | None,
    produce: Callable[[], Awaitable[BaseModel]],
    status_code: int = 201,
) -> JSONResponse:
    """Run `produce` once per key; answer a repeat with the first answer."""
    if key is None:
        return JSONResponse((await produce()).model_dump(mode="json"), status_code)

    org_id, user_id = session.info["org_id"], session.info["user_id"]
    if not await try_advisory_xact_lock(session, f"idempotency:{org_id}:{user_id}:{key}"):
        raise Conflict(
            "IDEMPOTENCY_KEY_IN_PROGRESS",
            "A request with this Idempotency-Key is still being processed",
            "Wait for it to finish, then retry to get its answer.",
        )
    request_hash = await _request_hash(request)
    stored = (
        await session.execute(
            text(
                "SELECT request_hash, response_status, response_body FROM idempotency_keys "
                "WHERE user_id = :user_id AND key = :key "
                "AND created_at > now() - interval '24 hours'"
            ),
            {"user_id": user_id, "key": key},
        )
    ).first()
    if stored is not None:
        if stored.request_hash != request_hash:
            raise ValidationFailed(
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request",
                "Use a new key for a new request.",
            )
        return JSONResponse(
            stored.response_body, stored.response_status, headers={REPLAYED_HEADER: "true"}
        )

    body = (await produce()).model_dump(mode="json")
    await session.execute(
        text(
            "INSERT INTO idempotency_keys "
            "(org_id, user_id, key, request_hash, response_status, response_body) "
            "VALUES (:org_id, :user_id, :key, :hash, :status, CAST(:body AS jsonb)) "
            "ON CONFLICT (org_id, user_id, key) DO UPDATE "
            "SET request_hash = EXCLUDED.request_hash, "
            "response_status = EXCLUDED.response_status, "
            "response_body = EXCLUDED.response_body, created_at = now()"
        ),
        {
            "org_id": org_id,
            "user_id": user_id,
            "key": key,
            "hash": request_hash,
            "status": status_code,
            "body": json.dumps(body),
        },
    )
    return JSONResponse(body, status_code)


async def forget_answers_mentioning(session: AsyncSession, needles: list[str]) -> int:
    """Deletes the stored answers of the session's organization that contain any of
    `needles` (any case): a data-subject erasure must not leave the person's data in a replay.
    Answers how many; a request repeated with such a key runs again."""
    if not needles:
        return 0
    patterns = [f"%{_like_escaped(needle)}%" for needle in needles]
    deleted = await session.execute(
        text(
            "DELETE FROM idempotency_keys "
            "WHERE CAST(response_body AS text) ILIKE ANY(CAST(:patterns AS text[]))"
        ),
        {"patterns": patterns},
    )
    return deleted.rowcount  # type: ignore[attr-defined,no-any-return]


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
