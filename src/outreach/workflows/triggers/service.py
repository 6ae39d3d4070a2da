"""Every way a contact is enrolled besides the planner's own runs: by the API (the manual
trigger), a tag added, a score reaching a threshold, a schedule, a signed webhook URL.

Enrollment goes through the planner (`plan_campaign` with the chosen contacts): it chooses each
contact's channel by the campaign's allocation and tier rules, keeps the lead limits, enrolls,
and walks the new enrollments at once, exactly as for the contacts it starts on its own. That is
why this is a package of its own: `workflows.enrollments` is below the planner and cannot call it.

Tag and score changes reach this package through the database: a trigger on `contacts` notes
each tag added and each score raised (migration 0010), and `enroll_on_signals` takes the notes.
So every way a person changes (the contacts API, an import, a sequence's own action) is seen,
in the transaction that made the change, and the contacts package knows nothing of sequences.
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outreach.auth.tokens import Principal
from outreach.config import Settings
from outreach.contacts.people.filters import SegmentFilters
from outreach.contacts.people.repository import people_outside
from outreach.contacts.segments import repository as segments_repository
from outreach.contacts.segments import service as segments
from outreach.contacts.service import add_people, add_to_campaign
from outreach.errors import Conflict, FieldError, NotFound, ValidationFailed, not_found
from outreach.jobs.runs import campaign_alone
from outreach.kit.ratelimit import take_one
from outreach.kit.tenancy import org_session
from outreach.models import Campaign
from outreach.sending.planner.service import PlanResult, plan_campaign
from outreach.suppressions.repository import suppressed_emails
from outreach.workflows.enrollments import service as enrollments
from outreach.workflows.enrollments.schemas import (
    EnrollIn,
    EnrollOut,
    EnrollResult,
    EnrollStatus,
    EnrollSummary,
    SegmentEnrollmentOut,
)
from outreach.workflows.graph import cron
from outreach.workflows.graph.schemas import TriggerConfig
from outreach.workflows.triggers import repository
from outreach.workflows.triggers.repository import MemberFacts, Signal
from outreach.workflows.triggers.schemas import TriggerUrlOut, WebhookTriggerIn, WebhookTriggerOut
from outreach.workflows.versions import keys
from outreach.workflows.versions import service as versions

log = logging.getLogger(__name__)

SIGNALS_PER_RUN = 1000
SCHEDULED_PER_RUN = 1000  # per campaign; the rest are enrolled on the next run
# People of a segment looked at per call or job pass and campaign; the job does the rest.
SEGMENT_PEOPLE_PER_PASS = 5000
SEGMENTS_PER_RUN = 100  # enrolled segments per organization and run
RATE_WINDOW_SECONDS = 60
# A contact a trigger names that the lead limits (or LinkedIn limits) hold back is tried again.
DEFERRED_CODES = frozenset({"CAMPAIGN_LEAD_LIMIT_REACHED", "ENROLLMENT_DEFERRED"})
DEFERRED_RETRY = timedelta(minutes=15)


def trigger_of(steps: Sequence[dict[str, Any]]) -> TriggerConfig:
    """The trigger node's config among a version's steps (a published graph has exactly one)."""
    config = next(step["config"] for step in steps if step["node_type"] == "trigger")
    return TriggerConfig.model_validate(config)


def _meets(trigger: TriggerConfig, signals: Sequence[Signal]) -> bool:
    if trigger.type == "tag":
        return any(trigger.tag in signal.added_tags for signal in signals)
    threshold = trigger.threshold
    return threshold is not None and any(
        signal.score_before is not None
        and signal.score_after is not None
        and signal.score_before < threshold <= signal.score_after
        for signal in signals
    )


async def _enroll(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    members: Sequence[uuid.UUID],
    settings: Settings,
    now: datetime,
) -> list[EnrollResult]:
    """Enrolls what can be of `members` in the campaign (locked, and still taking
    enrollments); nothing when it no longer takes them."""
    campaign = await enrollments.lock_enrolling_campaign(session, campaign_id)
    if campaign is None:
        return []
    return await enroll_members(session, campaign, members, settings, now)


def _enrolled(results: Sequence[EnrollResult]) -> int:
    return sum(result.status == "enrolled" for result in results)


async def enroll_on_signals(
    session: AsyncSession, settings: Settings, now: datetime, failed: list[uuid.UUID]
) -> int:
    """Takes the noted tag and score changes and enrolls each changed person in the live
    campaigns (active or paused) they are in whose trigger the change meets: a tag trigger's
    tag added, a score trigger's threshold reached from below. A person the lead limits hold
    back is noted again, for a run DEFERRED_RETRY later. A campaign whose enrollment fails is
    logged and noted in `failed`; the others go on. Answers how many were enrolled."""
    signals = await repository.take_signals(session, now, SIGNALS_PER_RUN)
    if not signals:
        return 0
    campaigns = await repository.triggered_campaigns(
        session, ("tag", "score"), enrollments.ENROLLING_STATUSES
    )
    by_contact: dict[uuid.UUID, list[Signal]] = defaultdict(list)
    for signal in signals:
        by_contact[signal.contact_id].append(signal)
    triggers = {campaign.id: trigger_of(steps) for campaign, steps in campaigns}
    wanted: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    person_of: dict[uuid.UUID, uuid.UUID] = {}
    for member_id, campaign_id, contact_id in await repository.members_of(
        session, list(triggers), by_contact
    ):
        if _meets(triggers[campaign_id], by_contact[contact_id]):
            wanted[campaign_id].append(member_id)
            person_of[member_id] = contact_id
    enrolled, held = 0, set()
    for campaign_id, members in wanted.items():
        async with (
            campaign_alone("tag and score triggers", campaign_id, failed),
            session.begin_nested(),
        ):
            results = await _enroll(session, campaign_id, members, settings, now)
            enrolled += _enrolled(results)
            held |= {person_of[r.contact_id] for r in results if r.code in DEFERRED_CODES}
    again = [signal for signal in signals if signal.contact_id in held]
    await repository.note_again(session, session.info["org_id"], again, now + DEFERRED_RETRY)
    return enrolled


async def enroll_on_schedule(
    session: AsyncSession, settings: Settings, now: datetime, failed: list[uuid.UUID]
) -> int:
    """For each active campaign started by a schedule: its pending contacts not yet enrolled
    that were in the campaign when the `cron` last fired are enrolled (at most
    SCHEDULED_PER_RUN per campaign and run). Nothing is remembered between runs: a run that
    was missed, or a campaign paused over a fire, is made up by the next run."""
    enrolled = 0
    for campaign, steps in await repository.triggered_campaigns(
        session, ("scheduled",), ("active",)
    ):
        expression = trigger_of(steps).cron
        if expression is None or not cron.is_valid(expression):
            log.warning(
                "campaign %s: the scheduled trigger's cron %r is not valid", campaign.id, expression
            )
            continue
        fired = cron.last_fire(expression, campaign.timezone or "UTC", now)
        async with (
            campaign_alone("scheduled trigger", campaign.id, failed),
            session.begin_nested(),
        ):
            members = await repository.scheduled_candidates(
                session, campaign.id, fired, SCHEDULED_PER_RUN
            )
            if members:
                enrolled += _enrolled(await _enroll(session, campaign.id, members, settings, now))
    return enrolled


# -- enrollment --------------------------------------------------------------------------

_ENDED_MEMBERS: dict[str, tuple[str, str]] = {
    "unsubscribed": ("CONTACT_UNSUBSCRIBED", "Contact has unsubscribed"),
    "bounced": ("CONTACT_BOUNCED", "Email previously bounced"),
}
_CHUNK = 1000


def _result(
    member_id: uuid.UUID,
    status: EnrollStatus,
    code: str | None = None,
    message: str | None = None,
    enrollment_id: uuid.UUID | None = None,
) -> EnrollResult:
    return EnrollResult(
        contact_id=member_id,
        status=status,
        enrollment_id=enrollment_id,
        code=code,
        message=message,
    )


def _refusal(member: MemberFacts | None, reason: str | None) -> EnrollResult | None:
    """Why this campaign contact cannot be enrolled, if it cannot."""
    if member is None:
        return None
    if member.enrollment_id is not None:
        message = "This contact is already enrolled"
        return _result(
            member.id, "already_enrolled", "ENROLLMENT_EXISTS", message, member.enrollment_id
        )
    if member.status in _ENDED_MEMBERS:
        return _result(member.id, "not_enrollable", *_ENDED_MEMBERS[member.status])
    if reason is not None:
        message = f"Contact is on the do-not-contact list ({reason})"
        return _result(member.id, "not_enrollable", "CONTACT_SUPPRESSED", message)
    if member.started_at is not None and member.channel is None:
        message = "No channel the campaign allocates can reach this contact"
        return _result(member.id, "not_enrollable", "CONTACT_UNREACHABLE", message)
    return None


def _after_plan(member: MemberFacts, plan: PlanResult) -> EnrollResult:
    if member.enrollment_id is not None:
        return _result(member.id, "enrolled", enrollment_id=member.enrollment_id)
    if member.started_at is not None:
        message = "No channel the campaign allocates can reach this contact"
        return _result(member.id, "not_enrollable", "CONTACT_UNREACHABLE", message)
    if plan.limit_reached is not None:
        message = f"The campaign's {plan.limit_reached} lead limit is reached; try again later"
        return _result(member.id, "not_enrollable", "CAMPAIGN_LEAD_LIMIT_REACHED", message)
    message = (
        "Not started now: the campaign's lead limits, its owner's LinkedIn limits or a missing "
        "template hold it back; try again later"
    )
    return _result(member.id, "not_enrollable", "ENROLLMENT_DEFERRED", message)


async def enroll_members(
    session: AsyncSession,
    campaign: Campaign,
    member_ids: Sequence[uuid.UUID],
    settings: Settings,
    now: datetime,
) -> list[EnrollResult]:
    """Enrolls those of these campaign contacts (of the locked `campaign`, active or paused)
    that can be: one result per distinct id, in order. Those the planner has not started yet
    are started by it; those it started before sequences existed keep their channel. In a
    paused campaign the engine holds the new walks paused until it resumes."""
    wanted = list(dict.fromkeys(member_ids))
    found = await repository.members(session, campaign.id, wanted)
    suppressed = await suppressed_emails(
        session, [member.email for member in found.values() if member.email is not None]
    )
    results: dict[uuid.UUID, EnrollResult] = {}
    for member_id in wanted:
        member = found.get(member_id)
        if member is None:
            message = "Not a contact of this campaign"
            results[member_id] = _result(member_id, "not_found", "CONTACT_NOT_FOUND", message)
            continue
        reason = suppressed.get(member.email.lower()) if member.email else None
        refusal = _refusal(member, reason)
        if refusal is not None:
            results[member_id] = refusal
    ready = [member_id for member_id in wanted if member_id not in results]
    if not ready:
        return [results[member_id] for member_id in wanted]
    started = [member_id for member_id in ready if found[member_id].started_at is not None]
    fresh = [member_id for member_id in ready if found[member_id].started_at is None]
    await enrollments.enroll(session, campaign, started, now)
    plan = await plan_campaign(session, campaign, settings, only=fresh) if fresh else PlanResult()
    after = await repository.members(session, campaign.id, ready)
    for member_id in ready:
        results[member_id] = _after_plan(after[member_id], plan)
    return [results[member_id] for member_id in wanted]


def _summary(results: Sequence[EnrollResult]) -> EnrollSummary:
    return EnrollSummary(
        enrolled=sum(r.status == "enrolled" for r in results),
        already_enrolled=sum(r.status == "already_enrolled" for r in results),
        not_found=sum(r.status == "not_found" for r in results),
        not_enrollable=sum(r.status == "not_enrollable" for r in results),
    )


async def enroll_by_api(
    session: AsyncSession,
    principal: Principal,
    campaign_id: uuid.UUID,
    body: EnrollIn,
    settings: Settings,
    now: datetime,
) -> EnrollOut:
    """`contact_ids`: a result per id. `all`: every contact not yet enrolled, in batches; the
    answer lists only those that could not be enrolled."""
    campaign = await enrollments.enrollable_campaign(session, campaign_id, principal)
    if body.segment_id is not None:
        return await enroll_segment(
            session, principal, campaign, body.segment_id, body.follow, settings, now
        )
    if body.contact_ids is not None:
        results = await enroll_members(session, campaign, body.contact_ids, settings, now)
        return EnrollOut(summary=_summary(results), results=results)
    everyone = await repository.unenrolled_members(session, campaign.id)
    results = []
    for start in range(0, len(everyone), _CHUNK):
        chunk = everyone[start : start + _CHUNK]
        results += await enroll_members(session, campaign, chunk, settings, now)
    return EnrollOut(
        summary=_summary(results), results=[r for r in results if r.status != "enrolled"]
    )


# -- segments ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentPass:
    results: list[EnrollResult]
    added: int
    caught_up: bool


async def _add_segment_people(
    session: AsyncSession,
    campaign: Campaign,
    filters: SegmentFilters,
    settings: Settings,
    now: datetime,
) -> SegmentPass:
    """Adds the people the segment matches who are not in the campaign, _CHUNK at a time, and
    enrolls them, until SEGMENT_PEOPLE_PER_PASS were examined; `caught_up` when none is left.
    People the campaign cannot take (suppressed, unreachable by its channel) are examined
    again by each pass."""
    results: list[EnrollResult] = []
    added, examined, after = 0, 0, None
    while examined < SEGMENT_PEOPLE_PER_PASS:
        people = await people_outside(session, filters, campaign.id, after, _CHUNK)
        examined += len(people)
        if people:
            after = people[-1]
            members = await add_people(session, campaign, people)
            added += len(members)
            if members:
                results += await enroll_members(
                    session, campaign, list(members.values()), settings, now
                )
        if len(people) < _CHUNK:
            return SegmentPass(results, added, caught_up=True)
    return SegmentPass(results, added, caught_up=False)


async def enroll_segment(
    session: AsyncSession,
    principal: Principal,
    campaign: Campaign,
    segment_id: uuid.UUID,
    follow: bool,
    settings: Settings,
    now: datetime,
) -> EnrollOut:
    """Adds the segment's people to the campaign and enrolls them: up to
    SEGMENT_PEOPLE_PER_PASS in this call, the rest by the `enroll_segments` job; with
    `follow`, that job also adds those who match later."""
    segment = await segments.get_segment(session, segment_id)
    await segments_repository.follow(
        session,
        campaign.org_id,
        campaign.id,
        segment.id,
        follow=follow,
        enrolled_by=principal.user_id,
    )
    done = await _add_segment_people(session, campaign, segments.filters_of(segment), settings, now)
    if done.caught_up:
        await segments_repository.caught_up(session, campaign.id, segment.id, now)
    return EnrollOut(
        summary=_summary(done.results),
        results=[r for r in done.results if r.status != "enrolled"],
        segment=SegmentEnrollmentOut(
            segment_id=segment.id, follow=follow, added=done.added, caught_up=done.caught_up
        ),
    )


async def enroll_followed_segments(
    session: AsyncSession, settings: Settings, now: datetime, failed: list[uuid.UUID]
) -> int:
    """For each segment enrolled into a live campaign that follows it, or whose people were
    not all added yet: a pass adding and enrolling the people who match and are not in the
    campaign. A campaign whose pass fails is logged and noted in `failed`; the others go on."""
    enrolled = 0
    for due in await segments_repository.claim_due(
        session, enrollments.ENROLLING_STATUSES, SEGMENTS_PER_RUN
    ):
        async with (
            campaign_alone("segments", due.campaign_id, failed),
            session.begin_nested(),
        ):
            campaign = await enrollments.lock_enrolling_campaign(session, due.campaign_id)
            if campaign is None:
                continue
            filters = SegmentFilters.model_validate(due.filters)
            done = await _add_segment_people(session, campaign, filters, settings, now)
            enrolled += _enrolled(done.results)
            if done.caught_up:
                await segments_repository.caught_up(session, campaign.id, due.segment_id, now)
    return enrolled


# -- the webhook trigger -----------------------------------------------------------------


def _no_trigger() -> NotFound:
    return not_found("Trigger")


async def _check_token(
    session: AsyncSession, org_id: uuid.UUID, campaign_id: uuid.UUID, token: str
) -> None:
    key = await repository.trigger_key(session, campaign_id)
    if key is None or not keys.verify(token, key, org_id, campaign_id):
        raise _no_trigger()


async def _member_for(
    session: AsyncSession, campaign: Campaign, body: WebhookTriggerIn
) -> uuid.UUID:
    """The campaign contact the body names: by id, or the person by email, found or created
    and added to the campaign as the contacts API adds them."""
    if body.contact_id is not None:
        return body.contact_id
    row = body.model_dump(exclude={"contact_id"}, exclude_none=True)
    [result] = (await add_to_campaign(session, campaign, [row])).results
    if result.status == "invalid":
        raise ValidationFailed(
            errors=[FieldError(e.field, e.code, e.message) for e in result.errors]
        )
    if result.campaign_contact_id is None:  # skipped: on the do-not-contact list
        raise Conflict(result.code or "CONTACT_SUPPRESSED", result.message or "Not enrollable")
    return result.campaign_contact_id


async def enroll_by_webhook(
    sessionmaker: async_sessionmaker[AsyncSession],
    campaign_id: uuid.UUID,
    token: str,
    body: WebhookTriggerIn,
    *,
    settings: Settings,
    now: datetime,
) -> WebhookTriggerOut:
    """Enrolls the contact the body names in the campaign the signed token is for. A token
    that does not verify, for a campaign that does not exist or another's, is 404 alike."""
    org_id = keys.org_of(token)
    if org_id is None:
        raise _no_trigger()
    # Checked and counted in a transaction of its own, so that a request refused later still
    # counts against the limit.
    async with org_session(sessionmaker, org_id) as session, session.begin():
        await _check_token(session, org_id, campaign_id, token)
        await take_one(
            session,
            org_id,
            f"workflow-trigger:{campaign_id}",
            limit=settings.trigger_webhooks_per_minute,
            window_seconds=RATE_WINDOW_SECONDS,
        )
    async with org_session(sessionmaker, org_id) as session, session.begin():
        campaign = await enrollments.enrollable_campaign(session, campaign_id)
        steps = await repository.published_steps(session, campaign_id)
        if steps is None or trigger_of(steps).type != "webhook":
            raise Conflict(
                "TRIGGER_NOT_WEBHOOK",
                "This campaign's sequence is not started by a webhook",
                "Publish a graph whose trigger node has type webhook to enroll by this URL.",
            )
        member_id = await _member_for(session, campaign, body)
        [result] = await enroll_members(session, campaign, [member_id], settings, now)
        if result.status == "not_found":
            raise NotFound(code="CONTACT_NOT_FOUND", title="Not a contact of this campaign")
        if result.status == "not_enrollable":
            raise Conflict(result.code, result.message)
        assert result.enrollment_id is not None
        return WebhookTriggerOut(
            status="already_enrolled" if result.status == "already_enrolled" else "enrolled",
            enrollment_id=result.enrollment_id,
            contact_id=member_id,
        )


async def trigger_url(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, base_url: str
) -> TriggerUrlOut:
    """The campaign's signed webhook trigger URL, for those who may change the campaign."""
    campaign = await enrollments.campaign_to_change(session, principal, campaign_id)
    workflow = await versions.draft(session, campaign, principal.user_id)
    token = keys.mint(workflow.trigger_key, campaign.org_id, campaign.id)
    steps = await repository.published_steps(session, campaign.id)
    return TriggerUrlOut(
        url=f"{base_url}/api/v1/triggers/{campaign.id}/{token}",
        trigger_type=trigger_of(steps).type if steps is not None else None,
    )
