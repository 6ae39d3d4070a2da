"""Campaign business rules: creation, edits by status, the status workflow, reads with metrics."""

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.campaigns import repository
from outreach.campaigns.repository import ORDERABLE, CampaignFacts, CampaignFilters
from outreach.campaigns.rules import (
    ALLOCATION_FIELDS,
    DEFAULT_ALLOCATIONS,
    EDITABLE_IN_ALL_STATUSES,
    LOCKED_WHILE_RUNNING,
    READ_ONLY_STATUSES,
    TEMPLATE_CHANNELS,
    TRANSITIONS,
    Action,
    Channel,
    allocation_error,
    percentage,
    response_rate_band,
)
from outreach.campaigns.schemas import (
    CampaignCreate,
    CampaignDetail,
    CampaignOut,
    CampaignUpdate,
    ResponseRateBandOut,
)
from outreach.errors import Conflict, FieldError, Forbidden, ValidationFailed, not_found
from outreach.kit.keyset import key_after, page_by
from outreach.kit.pagination import Page
from outreach.models import Campaign
from outreach.models.campaign import CampaignStatus
from outreach.models.campaign_contact import CONTACT_STATUSES
from outreach.sending.outbox import service as outbox
from outreach.tasks import service as tasks
from outreach.variants.service import assign_ab_variants
from outreach.workflows.enrollments import service as enrollments
from outreach.workflows.versions.service import ensure_published

CREATE_DEFAULTS: dict[str, Any] = {
    "campaign_type": "talent_sourcing",
    "channel": "email",
    "permission_mode": "co_pilot",
    "is_ab_test": False,
    "ab_split_percentage": 50,
    "daily_lead_limit": 50,
    "target_locations": [],
    "target_skills": [],
    "target_company_sizes": [],
    "target_industries": [],
    "target_titles": [],
    "send_days": [1, 2, 3, 4, 5],
    "send_start": time(9, 0),
    "send_end": time(17, 0),
}
LIST_FIELDS = frozenset(f for f, default in CREATE_DEFAULTS.items() if default == [])
# Fields that always have a value: PATCH may change them but not clear them.
NOT_NULLABLE = frozenset({"name", *CREATE_DEFAULTS, *ALLOCATION_FIELDS})


def _today() -> date:
    return datetime.now(UTC).date()


# -- reads -------------------------------------------------------------------------------


COMPUTED = frozenset(
    {
        "open_rate",
        "click_rate",
        "reply_rate",
        "bounce_rate",
        "conversion_rate",
        "overall_performance",
        "progress_percentage",
        "response_rate_band",
    }
)
COLUMNS = tuple(field for field in CampaignOut.model_fields if field not in COMPUTED)


def campaign_values(campaign: Campaign) -> dict[str, Any]:
    return {column: getattr(campaign, column) for column in COLUMNS}


def with_metrics(campaign: Mapping[str, Any]) -> dict[str, Any]:
    """A campaign's columns and the figures derived from them."""
    reached, responses, conversions = (
        campaign["contacts_reached"],
        campaign["responses_received"],
        campaign["conversions"],
    )
    target = campaign["target_contacts_count"] or campaign["total_contacts"]
    sent = campaign["emails_sent"]
    return {
        **campaign,
        "open_rate": percentage(campaign["opens_unique"], sent),
        "click_rate": percentage(campaign["clicks_unique"], sent),
        "reply_rate": percentage(responses, sent),
        "bounce_rate": percentage(campaign["emails_bounced"], sent),
        "conversion_rate": percentage(conversions, responses),
        "overall_performance": percentage(conversions, reached),
        "progress_percentage": percentage(reached, target),
        "response_rate_band": ResponseRateBandOut.of(
            response_rate_band(campaign["response_rate"], reached)
        ),
    }


async def get_campaign_facts(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignFacts:
    """The campaign's identity, owner, status and type, for reads of its parts."""
    facts = await repository.get_campaign_facts(session, campaign_id)
    if facts is None:
        raise not_found("Campaign")
    return facts


async def campaign_detail(session: AsyncSession, campaign: Campaign) -> CampaignDetail:
    counts = await repository.contact_counts(session, campaign.id)
    return _detail(campaign_values(campaign), counts)


def _detail(campaign: Mapping[str, Any], counts: Mapping[str, int]) -> CampaignDetail:
    return CampaignDetail.model_validate(
        with_metrics(campaign)
        | {"contact_counts": {status: counts.get(status, 0) for status in CONTACT_STATUSES}}
    )


async def get_campaign_detail(session: AsyncSession, campaign_id: uuid.UUID) -> CampaignDetail:
    campaign = await repository.get_campaign_with_counts(session, campaign_id)
    if campaign is None:
        raise not_found("Campaign")
    return _detail(campaign, campaign["contact_counts"])


async def list_campaigns(
    session: AsyncSession,
    filters: CampaignFilters,
    order_by: str,
    order: str | None,
    cursor: str | None,
    limit: int,
) -> Page[CampaignOut]:
    if order_by not in ORDERABLE:
        raise ValidationFailed.field(
            "order_by", "VALUE_NOT_ALLOWED", f"order_by must be one of {', '.join(ORDERABLE)}"
        )
    descending = (order or ("asc" if order_by == "name" else "desc")) == "desc"
    after = key_after(cursor, _CURSOR_PARSERS[order_by])
    rows = await repository.list_campaigns(session, filters, order_by, descending, after, limit + 1)
    return page_by(
        rows,
        limit,
        lambda row: CampaignOut.model_validate(with_metrics(row)),
        lambda row: (repository.sort_value(row, order_by, descending), row["id"]),
    )


_CURSOR_PARSERS: dict[str, Callable[[str], Any]] = {
    "created_at": datetime.fromisoformat,
    "name": str,
    "start_date": lambda v: v if v in ("infinity", "-infinity") else date.fromisoformat(v),
    "response_rate": Decimal,
}


# -- create and edit ---------------------------------------------------------------------


async def get_writable_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> Campaign:
    """The campaign, locked for this transaction, if the caller may change it and it is not
    read-only (completed or archived)."""
    campaign = await _get_for_change(session, principal, campaign_id)
    if campaign.status in READ_ONLY_STATUSES:
        raise campaign_read_only(campaign)
    return campaign


async def get_open_campaign(session: AsyncSession, campaign_id: uuid.UUID) -> Campaign:
    """The campaign, locked for this transaction, if it is not read-only: for work a user
    asked for earlier (a CSV import), whose rights were checked when they asked."""
    campaign = await repository.get_campaign(session, campaign_id, for_update=True)
    if campaign is None:
        raise not_found("Campaign")
    if campaign.status in READ_ONLY_STATUSES:
        raise campaign_read_only(campaign)
    return campaign


async def _get_for_change(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> Campaign:
    campaign = await repository.get_campaign(session, campaign_id, for_update=True)
    if campaign is None:
        raise not_found("Campaign")
    require_owner_or_manager(principal, campaign.owner_id)
    return campaign


def campaign_read_only(campaign: Campaign | CampaignFacts) -> Conflict:
    return Conflict(
        "CAMPAIGN_READ_ONLY",
        f"Campaign is {campaign.status} and read-only",
        "Completed and archived campaigns cannot be changed.",
    )


async def create_campaign(
    session: AsyncSession, principal: Principal, body: CampaignCreate
) -> CampaignDetail:
    require_writer(principal)
    given = body.model_dump(exclude_unset=True) | {"name": body.name}
    channel = Channel(given.get("channel") or CREATE_DEFAULTS["channel"])
    values = CREATE_DEFAULTS | dict(
        zip(ALLOCATION_FIELDS, DEFAULT_ALLOCATIONS[channel], strict=True)
    )
    values |= {
        field: value
        for field, value in given.items()
        if value is not None or field not in NOT_NULLABLE
    }
    values.setdefault("owner_id", principal.user_id)
    if values["owner_id"] != principal.user_id:
        if not principal.manages_org:
            raise Forbidden(detail="Only admins and TA managers may create campaigns for others.")
        await _check_owner_exists(session, values["owner_id"])
    await _validate(session, values, current=None)
    campaign = Campaign(
        **values,
        org_id=principal.org_id,
        status=CampaignStatus.DRAFT,
        created_by=principal.user_id,
    )
    session.add(campaign)
    await session.flush()
    await session.refresh(campaign)
    return await campaign_detail(session, campaign)


async def update_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, body: CampaignUpdate
) -> CampaignDetail:
    campaign = await get_writable_campaign(session, principal, campaign_id)
    changes = body.model_dump(exclude_unset=True)
    changes |= {f: [] for f in LIST_FIELDS if f in changes and changes[f] is None}
    cleared = sorted(
        field for field, value in changes.items() if value is None and field in NOT_NULLABLE
    )
    if cleared:
        raise ValidationFailed(
            errors=[FieldError(f, "FIELD_REQUIRED", f"{f} cannot be cleared") for f in cleared]
        )
    if campaign.status not in EDITABLE_IN_ALL_STATUSES:
        locked = sorted(
            field
            for field in changes.keys() & LOCKED_WHILE_RUNNING
            if changes[field] != getattr(campaign, field)
        )
        if locked:
            raise Conflict(
                "CAMPAIGN_FIELD_LOCKED",
                f"These fields cannot change once a campaign has started: {', '.join(locked)}",
                "Type, channel, templates, A/B setup, allocations and start date are fixed "
                "while a campaign is active or paused.",
            )
    if changes.get("owner_id", campaign.owner_id) != campaign.owner_id:
        await _check_owner_exists(session, changes["owner_id"])
    values = {column: getattr(campaign, column) for column in _editable_columns()} | changes
    if "channel" in changes and not changes.keys() & set(ALLOCATION_FIELDS):
        values |= dict(
            zip(ALLOCATION_FIELDS, DEFAULT_ALLOCATIONS[Channel(values["channel"])], strict=True)
        )
    await _validate(session, values, current=campaign)
    for field, value in values.items():
        setattr(campaign, field, value)
    await session.flush()
    await session.refresh(campaign)
    return await campaign_detail(session, campaign)


def _editable_columns() -> set[str]:
    return set(CampaignUpdate.model_fields)


async def _check_owner_exists(session: AsyncSession, owner_id: uuid.UUID) -> None:
    if not await repository.user_exists(session, owner_id):
        raise ValidationFailed.field(
            "owner_id", "OWNER_NOT_FOUND", "The owner must be a user of this organization"
        )


async def _validate(
    session: AsyncSession, values: dict[str, Any], current: Campaign | None
) -> None:
    """The rules across fields, on the campaign as it would be after the change."""
    errors: list[FieldError] = []
    channel = Channel(values["channel"])
    allocations = {field: values[field] for field in ALLOCATION_FIELDS}
    if (problem := allocation_error(channel, allocations)) is not None:
        errors.append(FieldError("email_allocation", "CAMPAIGN_ALLOCATION_INVALID", problem))

    start, end = values.get("start_date"), values.get("end_date")
    start_changed = current is None or start != current.start_date
    if start is not None and start_changed and start < _today():
        errors.append(
            FieldError(
                "start_date", "CAMPAIGN_START_DATE_IN_PAST", "Start date cannot be in the past"
            )
        )
    if end is not None and start is not None and end <= start:
        errors.append(
            FieldError("end_date", "CAMPAIGN_INVALID_DATES", "End date must be after start date")
        )
    elif end is not None and (current is None or end != current.end_date) and end < _today():
        errors.append(
            FieldError("end_date", "CAMPAIGN_INVALID_DATES", "End date cannot be in the past")
        )

    if values["send_start"] >= values["send_end"]:
        errors.append(
            FieldError(
                "send_end",
                "CAMPAIGN_SEND_HOURS_INVALID",
                "Sending must stop (send_end) after it starts (send_start) on the same day",
            )
        )
    sender_id = values.get("sender_id")
    sender_changed = current is None or sender_id != current.sender_id
    if (
        sender_id is not None
        and sender_changed
        and not await repository.sender_exists(session, sender_id)
    ):
        errors.append(
            FieldError(
                "sender_id", "CAMPAIGN_SENDER_NOT_FOUND", "No such sender in this organization"
            )
        )

    a, b = values.get("variant_a_template_id"), values.get("variant_b_template_id")
    if a is not None and a == b:
        errors.append(
            FieldError(
                "variant_b_template_id",
                "CAMPAIGN_AB_SAME_TEMPLATES",
                "Variant A and B must use different templates",
            )
        )
    template_fields = {
        field: values[field]
        for field in ("template_id", "variant_a_template_id", "variant_b_template_id")
        if values.get(field) is not None
    }
    channels = await repository.template_channels(session, list(template_fields.values()))
    for field, template_id in template_fields.items():
        if template_id not in channels:
            errors.append(
                FieldError(field, "TEMPLATE_NOT_FOUND", "No such template in this organization")
            )
        elif channels[template_id] not in TEMPLATE_CHANNELS[channel]:
            errors.append(
                FieldError(
                    field,
                    "TEMPLATE_CHANNEL_MISMATCH",
                    f"A {channels[template_id]} template cannot be used by a {channel} campaign",
                )
            )
    if errors:
        raise ValidationFailed(errors=errors)


async def delete_campaign(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID
) -> None:
    campaign = await _get_for_change(session, principal, campaign_id)
    campaign.deleted_at = datetime.now(UTC)
    await enrollments.end_campaign(session, campaign.id, campaign.deleted_at)


# -- status workflow ---------------------------------------------------------------------


async def transition(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    action: Action,
    scheduled_at: datetime | None = None,
) -> CampaignDetail:
    campaign = await _get_for_change(session, principal, campaign_id)
    sources, target = TRANSITIONS[action]
    status = CampaignStatus(campaign.status)
    if status is CampaignStatus.ARCHIVED:
        raise campaign_read_only(campaign)
    if status not in sources:
        if target is CampaignStatus.ACTIVE and status is CampaignStatus.ACTIVE:
            raise Conflict("CAMPAIGN_ALREADY_ACTIVE", "Campaign is already active")
        raise Conflict(
            "INVALID_STATUS_TRANSITION",
            f"Cannot {action} a campaign that is {status}",
            f"{action} applies to campaigns that are {' or '.join(sorted(sources))}.",
        )
    now = datetime.now(UTC)
    if action is Action.SCHEDULE:
        assert scheduled_at is not None
        if scheduled_at <= now:
            raise ValidationFailed.field(
                "scheduled_at",
                "CAMPAIGN_SCHEDULE_IN_PAST",
                "The scheduled time must be in the future",
            )
        await _check_ready_to_run(session, campaign)
        campaign.scheduled_at = scheduled_at
        campaign.status = target
    elif target is CampaignStatus.ACTIVE:
        await activate(session, campaign, now)
    elif target is CampaignStatus.COMPLETED:
        await complete(session, campaign, now)
    elif target is CampaignStatus.ARCHIVED:
        archive(campaign, now)
    elif target is CampaignStatus.PAUSED:
        await pause(session, campaign, now)
    else:
        campaign.status = target
    await session.flush()
    await session.refresh(campaign)
    return await campaign_detail(session, campaign)


# The transitions' effects, shared by the routes and the lifecycle jobs (campaigns/jobs.py):
# the caller has locked the campaign and checked that the transition is allowed.


async def activate(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Start or resume the campaign, if the activation rules hold (else a Conflict)."""
    await _check_ready_to_run(session, campaign)
    campaign.start_date = campaign.start_date or now.date()
    campaign.started_at = campaign.started_at or now
    campaign.last_error = None
    if campaign.is_ab_test:
        await assign_ab_variants(session, campaign)
    # New enrollments take the latest version: a draft edited since is published now.
    await ensure_published(session, campaign)
    await enrollments.resume_campaign(session, campaign, now)
    campaign.status = CampaignStatus.ACTIVE


async def pause(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Every walk of the campaign stops where it is (its messages are held by the campaign's
    status: the send loop sends for active campaigns only)."""
    await enrollments.pause_campaign(session, campaign, now)
    campaign.status = CampaignStatus.PAUSED


async def complete(session: AsyncSession, campaign: Campaign, now: datetime) -> None:
    """Finish the campaign and stop its outreach in the same transaction: queued and
    awaiting messages are cancelled, open tasks too; a message already being sent is left
    to finish (the SMTP transaction may be under way). Its walks are made due, and the
    engine ends them."""
    today = now.date()
    if campaign.end_date is None or campaign.end_date > today:
        campaign.end_date = max(today, campaign.start_date or today)
    campaign.completed_at = now
    campaign.status = CampaignStatus.COMPLETED
    # The walks first: an engine batch holding some finishes (it may cancel messages of its
    # own) before this transaction locks the campaign's messages and tasks.
    await enrollments.end_campaign(session, campaign.id, now)
    await outbox.cancel_queued(session, campaign.id, "campaign completed")
    await tasks.cancel_open_tasks(session, campaign.id)


def archive(campaign: Campaign, now: datetime) -> None:
    campaign.archived_at = now
    campaign.status = CampaignStatus.ARCHIVED


async def _check_ready_to_run(session: AsyncSession, campaign: Campaign) -> None:
    """The activation rules of the spec; also checked when scheduling, so that the
    scheduler's activation cannot fail later for a reason known now."""
    if campaign.total_contacts == 0:
        raise Conflict(
            "CAMPAIGN_NO_CONTACTS",
            "Cannot activate campaign with 0 contacts",
            "Add at least 1 contact before activating.",
        )
    if campaign.is_ab_test:
        if campaign.variant_a_template_id is None or campaign.variant_b_template_id is None:
            raise Conflict(
                "CAMPAIGN_AB_MISSING_TEMPLATES",
                "A/B test requires both variant templates",
                "Select a template for variant A and for variant B.",
            )
        if campaign.variant_a_template_id == campaign.variant_b_template_id:
            raise Conflict(
                "CAMPAIGN_AB_SAME_TEMPLATES", "Variant A and B must use different templates"
            )
    if campaign.end_date is not None and campaign.end_date < _today():
        raise Conflict(
            "CAMPAIGN_INVALID_DATES",
            "The campaign's end date has passed",
            "Move the end date to today or later before activating.",
        )
