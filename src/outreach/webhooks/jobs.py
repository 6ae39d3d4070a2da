"""The webhook jobs: `webhook_deliveries` claims due deliveries (leased, SKIP LOCKED)
organization by organization and sends each in a task of its own; `webhook_log_retention`
forgets final deliveries after 30 days.

Bounded so that one tenant's slow or dead endpoint does not hold up the others: at most
`connections` deliveries in flight per process, at most `per_org` of them for one organization,
each attempt over in TIMEOUT_SECONDS (kit/webhooks). A failed attempt is retried with
exponential backoff and jitter until the delivery is `retry_for` old (a day), then it fails;
when it fails and nothing got through to its subscription since the delivery was queued, the
subscription is disabled with the reason. A 410 Gone disables it at once.
"""

import asyncio
import json
import logging
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.config import Settings
from outreach.jobs.registry import JobList, Pass, seconds
from outreach.jobs.runs import JobReport, for_each_org, with_failures
from outreach.kit.targets import TargetGuard
from outreach.kit.tenancy import org_session
from outreach.kit.webhooks import (
    TIMEOUT_SECONDS,
    WebhookResult,
    backoff,
    send_signed,
    webhook_client,
)
from outreach.observability.metrics import WEBHOOK_DELIVERIES
from outreach.sending.secrets import InvalidToken, SenderSecrets, sender_secrets
from outreach.webhooks import repository
from outreach.webhooks.repository import Attempt, ClaimedDelivery
from outreach.webhooks.service import webhook_id_of

log = logging.getLogger(__name__)

JOBS = JobList()

CONNECTIONS = 32
PER_ORG = 4
MAX_ORGS_PER_PASS = 200
LEASE_SECONDS = TIMEOUT_SECONDS + 50.0  # the attempt, and recording it
RETRY_FOR = timedelta(days=1)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=3)
LOG_DAYS = 30
UNDECRYPTABLE = (
    "the signing secret cannot be decrypted with OUTREACH_SENDER_SECRET_KEYS: add the key that "
    "encrypted it"
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dispatcher:
    """Claims and sends deliveries. `delay(attempt, retry_after)` is the wait before a retry."""

    sessionmaker: async_sessionmaker[AsyncSession]
    secrets: SenderSecrets
    guard: TargetGuard
    connections: int = CONNECTIONS
    per_org: int = PER_ORG
    lease_seconds: float = LEASE_SECONDS
    time_limit: float = TIMEOUT_SECONDS
    retry_for: timedelta = RETRY_FOR
    delay: Callable[[int, timedelta | None], timedelta] = field(
        default=lambda attempt, retry_after: backoff(
            attempt, retry_after, base=RETRY_BASE, cap=RETRY_CAP, draw=random.random
        )
    )
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    running: set[asyncio.Task[None]] = field(default_factory=set)
    in_flight: Counter[uuid.UUID] = field(default_factory=Counter)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        stopping: asyncio.Event | None = None,
    ) -> "Dispatcher":
        return cls(
            sessionmaker,
            sender_secrets(tuple(settings.sender_secret_keys)),
            TargetGuard.for_settings(settings),
            stopping=stopping or asyncio.Event(),
        )

    async def claim(self, limit: int) -> tuple[list[ClaimedDelivery], list[uuid.UUID]]:
        """Up to `limit` due deliveries, organization after organization, each organization
        within its share; and the organizations whose claim failed."""
        claimed: list[ClaimedDelivery] = []

        async def claim_in(org_id: uuid.UUID) -> int:
            found = await self.claim_org(org_id, limit - len(claimed))
            claimed.extend(found)
            return len(found)

        outcome = await for_each_org(
            self.sessionmaker,
            claim_in,
            "claiming webhook deliveries",
            webhook_due=True,
            limit=MAX_ORGS_PER_PASS,
            stopping=self.stopping,
        )
        return claimed, outcome.failed

    async def claim_org(self, org_id: uuid.UUID, limit: int) -> list[ClaimedDelivery]:
        """Up to `limit` of the organization's due deliveries, within its share."""
        share = min(self.per_org - self.in_flight[org_id], limit)
        if share <= 0:
            return []
        async with org_session(self.sessionmaker, org_id) as session, session.begin():
            found = await repository.claim_due(session, org_id, share, self.lease_seconds)
            await repository.note_next_due(session, org_id)
        return found

    async def start_due(self) -> JobReport:
        """One pass of the job: due deliveries claimed within the free connections, each sent
        in a task of its own."""
        free = self.connections - len(self.running)
        if free <= 0:
            return JobReport(0, f"all {self.connections} webhook connections in use")
        claimed, failed = await self.claim(free)
        for delivery in claimed:
            self.in_flight[delivery.org_id] += 1
            task = asyncio.create_task(self.deliver(delivery))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return JobReport(
            len(claimed), with_failures(f"started {len(claimed)} webhook deliveries", failed)
        )

    async def deliver_due(self) -> int:
        """Claim the due deliveries and send them, waiting for the end: how many were sent."""
        claimed, _ = await self.claim(self.connections)
        await self.deliver_all(claimed)
        return len(claimed)

    async def deliver_all(self, claimed: list[ClaimedDelivery]) -> None:
        for delivery in claimed:
            self.in_flight[delivery.org_id] += 1
        await asyncio.gather(*(self.deliver(delivery) for delivery in claimed))

    async def deliver(self, delivery: ClaimedDelivery) -> None:
        """One attempt of a claimed delivery, and its outcome recorded. Never raises: what is
        not recorded is attempted again when its lease ends."""
        try:
            attempted_at = _now()
            result = await self._send(delivery)
            async with (
                org_session(self.sessionmaker, delivery.org_id) as session,
                session.begin(),
            ):
                await self._record(session, delivery, attempted_at, result)
                await repository.note_next_due(session, delivery.org_id)
        except Exception:
            log.exception("webhook delivery %s: could not record the attempt", delivery.id)
        finally:
            self.in_flight[delivery.org_id] -= 1
            if self.in_flight[delivery.org_id] <= 0:
                del self.in_flight[delivery.org_id]

    async def _send(self, delivery: ClaimedDelivery) -> WebhookResult:
        webhook_id = webhook_id_of(delivery.message_id)
        try:
            secret = self.secrets.decrypt(delivery.secret_encrypted)
        except InvalidToken:
            return WebhookResult(webhook_id, ok=False, error=UNDECRYPTABLE, retryable=True)
        body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"))
        async with webhook_client(self.guard) as http:
            return await send_signed(
                http,
                "POST",
                delivery.url,
                body,
                webhook_id=webhook_id,
                secret=secret,
                time_limit=self.time_limit,
            )

    async def _record(
        self,
        session: AsyncSession,
        delivery: ClaimedDelivery,
        attempted_at: datetime,
        result: WebhookResult,
    ) -> None:
        seen = Attempt(
            "delivered",
            attempted_at,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response=result.response if result.status_code is not None else None,
            error=result.error,
        )
        if result.ok:
            WEBHOOK_DELIVERIES.labels("delivered").inc()
            await repository.record(session, delivery, seen)
            return
        retry_at = _now() + self.delay(delivery.attempts, result.retry_after)
        if result.status_code != 410 and retry_at < delivery.created_at + self.retry_for:
            WEBHOOK_DELIVERIES.labels("retried").inc()
            retry = replace(seen, status="pending", next_attempt_at=retry_at)
            await repository.record(session, delivery, retry)
            return
        WEBHOOK_DELIVERIES.labels("gave_up").inc()
        if not await repository.record(session, delivery, replace(seen, status="failed")):
            return  # another claim holds it now: that one decides
        if result.status_code == 410:
            reason = "The endpoint answered 410 Gone."
            disabled = await repository.disable(session, delivery.subscription_id, reason)
        else:
            reason = (
                f"No delivery got through for {_span(self.retry_for)}; the last attempt: "
                f"{result.error or 'failed'}."
            )
            disabled = await repository.disable(
                session,
                delivery.subscription_id,
                reason,
                unless_delivered_since=delivery.created_at,
            )
        if disabled:
            log.warning("webhook subscription %s disabled: %s", delivery.subscription_id, reason)


def _span(duration: timedelta) -> str:
    hours = duration.total_seconds() / 3600
    return f"{hours:g} hours" if hours >= 1 else f"{duration.total_seconds():g} seconds"


@JOBS.loop("webhook_deliveries", idle=lambda _settings: 1.0)
def _webhook_deliveries(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], stopping: asyncio.Event
) -> Pass:
    dispatcher = Dispatcher.from_settings(settings, sessionmaker, stopping)
    return dispatcher.start_due


@JOBS.add("webhook_log_retention", every=seconds(3600))
async def forget_old_deliveries(
    _settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> JobReport:
    """Final deliveries older than LOG_DAYS leave the log, organization by organization."""

    async def forget(org_id: uuid.UUID) -> int:
        async with org_session(sessionmaker, org_id) as session, session.begin():
            return await repository.forget_old(session, LOG_DAYS)

    outcome = await for_each_org(sessionmaker, forget, "forgetting webhook deliveries")
    forgotten = sum(outcome.results.values())
    return JobReport(
        forgotten, with_failures(f"forgot {forgotten} webhook deliveries", outcome.failed)
    )
