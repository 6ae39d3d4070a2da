"""The application: routers, middleware, error handlers and the database engine's lifespan."""

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.analytics.router import router as analytics_router
from outreach.approvals.router import router as approvals_router
from outreach.auth.dependencies import known_principals
from outreach.auth.keys.router import router as api_keys_router
from outreach.auth.tokens import TokenVerifier
from outreach.campaigns.router import router as campaigns_router
from outreach.config import Settings, get_settings
from outreach.contacts.imports.form import MAX_MAPPING_BYTES
from outreach.contacts.imports.router import router as imports_router
from outreach.contacts.people.router import router as people_router
from outreach.contacts.privacy.router import router as privacy_router
from outreach.contacts.router import router as contacts_router
from outreach.contacts.segments.router import router as segments_router
from outreach.db import DatabaseUrls, create_engine, create_sessionmaker, resolve_database_urls
from outreach.events.manual.router import router as events_router
from outreach.events.writer import EventWriter
from outreach.health.router import router as health_router
from outreach.inbound.router import MAX_BODY_BYTES as INBOUND_MAX_BODY_BYTES
from outreach.inbound.router import router as inbound_router
from outreach.inbox.router import router as inbox_router
from outreach.kit import openapi, timezones
from outreach.kit.bodylimit import BodySizeLimit
from outreach.kit.jsondepth import JsonDepthLimit
from outreach.kit.logs import guard_log_handlers
from outreach.kit.problems import install_problem_handlers
from outreach.kit.ratelimit import RateLimitHeaders, RequestBudget
from outreach.kit.targets import TargetGuard
from outreach.mailboxes.router import router as mailboxes_router
from outreach.mailcatcher.router import router as mail_catcher_router
from outreach.observability.middleware import RequestObservation
from outreach.observability.router import router as metrics_router
from outreach.observability.service import DatabaseFacts
from outreach.scheduler import start_background_jobs
from outreach.schema import check_app_role, head_revision
from outreach.sending.outbox.router import router as outbox_router
from outreach.sending.planner.router import router as send_router
from outreach.sending.senders.router import router as senders_router
from outreach.sending.sms_provider.router import router as sms_router
from outreach.suppressions.router import router as suppressions_router
from outreach.tasks.router import router as tasks_router
from outreach.templates.rendering import Renderer
from outreach.templates.router import router as templates_router
from outreach.tracking.asgi import TrackingFastPath
from outreach.tracking.router import router as tracking_router
from outreach.tracking.tokens import TrackingSigner
from outreach.webhooks.router import router as webhooks_router
from outreach.workflows.enrollments.router import router as enrollments_router
from outreach.workflows.splits.router import router as splits_router
from outreach.workflows.triggers.router import router as triggers_router
from outreach.workflows.versions.router import router as versions_router

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# Routes whose bodies may be larger (or must be smaller) than OUTREACH_MAX_BODY_BYTES.
BODY_LIMITS = {f"{API_PREFIX}/inbound/[^/]+": INBOUND_MAX_BODY_BYTES}
# The CSV imports take a file of up to OUTREACH_IMPORT_MAX_BYTES, in a form: its mapping field
# and the parts' headers come on top.
IMPORT_PATHS = f"{API_PREFIX}/(campaigns/[^/]+/)?contacts/import"
FORM_OVERHEAD_BYTES = MAX_MAPPING_BYTES + 64 * 1024


def body_limits(settings: Settings) -> dict[str, int]:
    return BODY_LIMITS | {IMPORT_PATHS: settings.import_max_bytes + FORM_OVERHEAD_BYTES}


DESCRIPTION = """
Plan outreach campaigns, add contacts, and watch their metrics.

Every `/api/v1` route needs `Authorization: Bearer <JWT>` with the claims `sub`, `org_id`,
`role` and `exp`, or `Authorization: Bearer <API key>` (`ok_live_...`, from `POST /api-keys`).
Errors are `application/problem+json` with a machine `code`; each error response lists the
codes it can carry. Lists take `?limit=` and `?cursor=` and answer
`{"items": [...], "next_cursor": ...}`. A `POST` that creates or sends honours
`Idempotency-Key` (24 hours; a replay says `Idempotent-Replayed: true`). Every answer carries
`X-Request-ID` (yours, when you send one); quote it when reporting a problem. Each user and
each API key may make OUTREACH_RATE_LIMIT_PER_MINUTE requests a minute (600 by default): the
`RateLimit-*` headers say what is left; past it, `429 RATE_LIMITED` with `Retry-After`.
"""

# The tag of every route, in the order /docs shows them (tests/test_openapi.py: each is here).
TAGS = [
    (
        "campaigns",
        "Campaigns: create, edit, and move through draft, scheduled, active, "
        "paused, completed and archived",
    ),
    ("contacts", "The contacts of a campaign: add up to 1,000 at a time, list, edit, remove"),
    ("imports", "CSV imports of contacts, into a campaign or the organization, as jobs"),
    ("events", "Events recorded by hand on a campaign contact (replies by phone, conversions)"),
    ("people", "The organization's people, across campaigns: search, edit, tag, activity"),
    ("segments", "Saved contact filters with a live count, to enroll from"),
    ("data-subject requests", "Export or erase everything held about a person; the audit log"),
    ("templates", "Message templates per channel, with personalization tokens and previews"),
    ("senders", "Sending mailboxes: SMTP settings, limits, warm-up, circuit breaker, IMAP"),
    ("sms", "The organization's SMS provider account"),
    ("suppressions", "The organization's do-not-contact list"),
    ("sending", "The outbox of messages and sending a manual campaign"),
    ("approvals", "Co-pilot messages waiting for a person to approve, edit or reject"),
    ("tasks", "Manual steps (LinkedIn, calls, letters) due for their owner"),
    ("sequences", "Drip sequences: the graph, versions, enrollments, splits and triggers"),
    ("analytics", "Metrics, A/B results, time series, links, events, reports, the dashboard"),
    ("inbox", "Replies read from the senders' mailboxes, and answers to them"),
    ("inbound", "Events pushed by email providers (signed by the organization's secret)"),
    ("webhooks", "Outbound webhooks: subscriptions, signed deliveries, their log, redelivery"),
    ("api-keys", "API keys for machine clients (admins): shown once, kept hashed, with a role"),
    ("mail catcher", "Mail the embedded SMTP catcher received (local use)"),
    ("tracking", "Public links in sent mail: open pixel, click redirect, unsubscribe"),
    ("health", "Liveness and readiness of the process"),
]


class RequestIdMiddleware:
    """Gives each request an id (or keeps the caller's X-Request-ID) for logs and errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given if given.isprintable() and given else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None, urls: DatabaseUrls | None = None) -> FastAPI:
    settings = settings or get_settings()
    urls = urls or resolve_database_urls(settings)
    guard_log_handlers()  # uvicorn's, configured before it loads the app

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_app_role(urls.app)
        engine = create_engine(urls.app, pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.database_facts = DatabaseFacts(
            app.state.sessionmaker, settings.metrics_db_seconds, settings.metrics_db_orgs
        )
        async with engine.connect() as connection:
            await timezones.load(connection)
        jobs = start_background_jobs(settings, app.state.sessionmaker)
        app.state.event_writer = EventWriter(
            app.state.sessionmaker,
            settings.data_dir / "tracking-spool",
            memory_limit=settings.tracking_buffer_events,
        )
        app.state.event_writer.start()
        # What startup built lives as long as the process: keep the collector off it.
        gc.collect()
        gc.freeze()
        yield
        await jobs.stop()
        await app.state.event_writer.stop()
        await engine.dispose()

    app = FastAPIOffline(
        title="outreach",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        openapi_tags=[{"name": name, "description": about} for name, about in TAGS],
        servers=[{"url": settings.public_url or "/", "description": "This service"}],
        generate_unique_id_function=openapi.operation_id,
    )
    openapi.install(app)
    app.state.settings = settings
    app.state.known_principals = known_principals()
    app.state.token_verifier = TokenVerifier(settings)
    app.state.request_budget = RequestBudget(settings.rate_limit_per_minute)
    app.state.tracking_signer = TrackingSigner(settings.tracking_secrets)
    app.state.target_guard = TargetGuard.for_settings(settings)
    app.state.renderer = Renderer(settings.template_render_seconds)
    app.state.migration_head = head_revision(urls)
    app.add_middleware(JsonDepthLimit)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes, per_path=body_limits(settings))
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(RequestIdMiddleware)
    install_problem_handlers(app)
    app.include_router(health_router)
    if settings.metrics:
        app.include_router(metrics_router)
    app.include_router(tracking_router)
    for router in (
        campaigns_router,
        contacts_router,
        people_router,
        segments_router,
        privacy_router,
        imports_router,
        events_router,
        templates_router,
        suppressions_router,
        senders_router,
        mailboxes_router,
        send_router,
        outbox_router,
        sms_router,
        analytics_router,
        inbound_router,
        inbox_router,
        mail_catcher_router,
        tasks_router,
        approvals_router,
        splits_router,
        enrollments_router,
        triggers_router,
        versions_router,
        webhooks_router,
        api_keys_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    # The pixel and the click are answered ahead of every middleware (tracking/asgi.py), but
    # counted and logged like every request. Built here, so middleware is added above this line.
    access_log = settings.access_log
    app.middleware_stack = RequestObservation(
        TrackingFastPath(app.build_middleware_stack()),
        metrics=settings.metrics,
        access_log=settings.log_format == "json" if access_log is None else access_log,
        prefixes=(API_PREFIX,),
    )
    return app
