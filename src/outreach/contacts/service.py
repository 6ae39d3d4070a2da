"""Contacts in a campaign: bulk add with a result per row, A/B assignment, reads and edits."""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.tokens import Principal
from outreach.campaigns.rules import CampaignType, Channel
from outreach.campaigns.service import get_campaign_facts, get_writable_campaign
from outreach.contacts import repository
from outreach.contacts.repository import Member, MemberFilters, identity_key
from outreach.contacts.schemas import (
    AUTOMATED_FIELDS,
    CUSTOM_FIELD_PREFIX,
    MAX_SCORE,
    MIN_SCORE,
    BulkAddOut,
    BulkSummary,
    CampaignContactOut,
    CampaignContactUpdate,
    ContactFields,
    ContactIn,
    ContactOut,
    CustomFields,
    RowResult,
    Tags,
)
from outreach.errors import Conflict, FieldError, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.kit.problems import FieldErrorOut, field_error
from outreach.models import Campaign, CampaignContact, Contact
from outreach.models.campaign import CampaignStatus
from outreach.suppressions.repository import suppressed_emails
from outreach.variants.service import assign_ab_variants

ACCEPTED_TYPES: dict[CampaignType, frozenset[str]] = {
    CampaignType.TALENT_SOURCING: frozenset({"candidate", "referral"}),
    CampaignType.BUSINESS_DEVELOPMENT: frozenset({"hiring_manager", "decision_maker", "referral"}),
    CampaignType.MIXED: frozenset({"candidate", "hiring_manager", "decision_maker", "referral"}),
}
DEFAULT_TYPE: dict[CampaignType, str] = {
    CampaignType.TALENT_SOURCING: "candidate",
    CampaignType.BUSINESS_DEVELOPMENT: "hiring_manager",
    CampaignType.MIXED: "candidate",
}
SUPPRESSION_SKIPS: dict[str, tuple[str, str]] = {
    "hard_bounce": ("CONTACT_BOUNCED", "Email previously bounced"),
    "unsubscribed": ("CONTACT_UNSUBSCRIBED", "Contact has unsubscribed"),
    "complaint": ("CONTACT_UNSUBSCRIBED", "Contact has unsubscribed (spam complaint)"),
    "manual": ("CONTACT_UNSUBSCRIBED", "Contact is on the do-not-contact list"),
}
# Columns that always hold a value: null in a PATCH clears them to empty.
CLEARED_TO_EMPTY: dict[str, Callable[[], Any]] = {"tags": list, "custom_fields": dict}
# What a PATCH changes: the organization's person, and the campaign's membership
PERSON_FIELDS = frozenset(ContactFields.model_fields)
MEMBERSHIP_FIELDS = frozenset({"contact_type", "ab_variant"})


# -- rules -------------------------------------------------------------------------------


def _reachability_errors(
    campaign: Campaign | None,
    email: str | None,
    lead_id: uuid.UUID | None,
    linkedin_url: str | None,
) -> list[FieldError]:
    """Who the person is (email or lead id) and whether the campaign's channel, if any, can
    reach them."""
    channel = None if campaign is None else Channel(campaign.channel)
    if channel is Channel.EMAIL and email is None:
        message = "An email campaign needs the contact's email"
        return [FieldError("email", "CONTACT_EMAIL_REQUIRED", message)]
    if email is None and lead_id is None:
        message = "A contact needs an email or a lead_id"
        return [FieldError("email", "CONTACT_EMAIL_REQUIRED", message)]
    if channel is Channel.LINKEDIN and linkedin_url is None:
        message = "A LinkedIn campaign needs the contact's linkedin_url"
        return [FieldError("linkedin_url", "CONTACT_LINKEDIN_URL_REQUIRED", message)]
    if channel is Channel.COMBINED and email is None and linkedin_url is None:
        message = "A combined campaign needs the contact's email or linkedin_url"
        return [FieldError("email", "CONTACT_EMAIL_REQUIRED", message)]
    return []


def _type_errors(campaign: Campaign, contact_type: str) -> list[FieldError]:
    campaign_type = CampaignType(campaign.campaign_type)
    if contact_type in ACCEPTED_TYPES[campaign_type]:
        return []
    accepted = ", ".join(sorted(ACCEPTED_TYPES[campaign_type]))
    message = f"A {campaign_type} campaign accepts contacts of type {accepted}"
    return [FieldError("contact_type", "CONTACT_TYPE_MISMATCH", message)]


# -- bulk add ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    index: int
    contact: ContactIn
    contact_type: str

    @property
    def key(self) -> str:
        return identity_key(self.contact.email, self.contact.lead_id)


def _check_row(campaign: Campaign | None, index: int, raw: Any) -> _Row | list[FieldError]:
    """One row as the campaign takes it, or as the organization's people do (no campaign:
    the contact type, a campaign's role, is checked for its value only)."""
    try:
        contact = ContactIn.model_validate(raw)
    except ValidationError as exc:
        return [field_error(dict(error)) for error in exc.errors()]
    errors = _reachability_errors(campaign, contact.email, contact.lead_id, contact.linkedin_url)
    if campaign is None:
        return errors or _Row(index, contact, contact.contact_type or "")
    contact_type = contact.contact_type or DEFAULT_TYPE[CampaignType(campaign.campaign_type)]
    errors += _type_errors(campaign, contact_type)
    return errors or _Row(index, contact, contact_type)


def _checked_rows(
    campaign: Campaign | None, rows: list[Any], results: dict[int, RowResult]
) -> list[_Row]:
    """The valid rows; each invalid one's result, with its codes, in `results`."""
    checked: list[_Row] = []
    for index, raw in enumerate(rows):
        row = _check_row(campaign, index, raw)
        if isinstance(row, _Row):
            checked.append(row)
        else:
            results[index] = _invalid_row(index, row)
    return checked


def _bulk_out(results: dict[int, RowResult], count: int) -> BulkAddOut:
    ordered = [results[index] for index in range(count)]
    summary = BulkSummary(
        created=sum(r.status == "created" for r in ordered),
        skipped=sum(r.status == "skipped" for r in ordered),
        invalid=sum(r.status == "invalid" for r in ordered),
    )
    return BulkAddOut(summary=summary, results=ordered)


def _invalid_row(index: int, errors: list[FieldError]) -> RowResult:
    return RowResult(
        index=index,
        status="invalid",
        code=errors[0].code,
        message=errors[0].message,
        errors=[FieldErrorOut(**error.as_dict()) for error in errors],
    )


def _skipped(
    index: int,
    code: str,
    message: str,
    contact_id: uuid.UUID | None = None,
    member_id: uuid.UUID | None = None,
) -> RowResult:
    return RowResult(
        index=index,
        status="skipped",
        code=code,
        message=message,
        contact_id=contact_id,
        campaign_contact_id=member_id,
    )


async def _new_people(
    session: AsyncSession, rows: list[_Row], results: dict[int, RowResult]
) -> tuple[dict[str, _Row], list[_Row]]:
    """Skip the suppressed rows; answer the row that adds each person, and the repeats."""
    emails = [row.contact.email for row in rows if row.contact.email is not None]
    suppressed = await suppressed_emails(session, emails)
    first: dict[str, _Row] = {}
    repeated: list[_Row] = []
    for row in rows:
        reason = suppressed.get(row.key) if row.contact.email is not None else None
        if reason is not None:
            results[row.index] = _skipped(row.index, *SUPPRESSION_SKIPS[reason])
        elif row.key in first:
            repeated.append(row)
        else:
            first[row.key] = row
    return first, repeated


async def _add_people(
    session: AsyncSession,
    campaign: Campaign,
    first: dict[str, _Row],
    repeated: list[_Row],
    results: dict[int, RowResult],
) -> None:
    """Create or update each person, then add those not yet in the campaign."""
    contact_ids = {
        key: person.id
        for key, person in (await _upsert_people(session, campaign.org_id, first)).items()
    }
    added = await repository.add_members(
        session,
        campaign.org_id,
        campaign.id,
        {contact_ids[key]: row.contact_type for key, row in first.items()},
    )
    members = added | await repository.member_ids(
        session, campaign.id, [id_ for id_ in contact_ids.values() if id_ not in added]
    )
    for row in [*first.values(), *repeated]:
        contact_id = contact_ids[row.key]
        if row is first[row.key] and contact_id in added:
            results[row.index] = RowResult(
                index=row.index,
                status="created",
                contact_id=contact_id,
                campaign_contact_id=added[contact_id],
            )
        else:
            message = "This person is already in the campaign"
            results[row.index] = _skipped(
                row.index, "CONTACT_DUPLICATE", message, contact_id, members[contact_id]
            )


async def add_contacts(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, rows: list[Any]
) -> BulkAddOut:
    """Add the valid rows in one go; answer each row's fate, in order."""
    campaign = await get_writable_campaign(session, principal, campaign_id)
    return await add_to_campaign(session, campaign, rows)


async def add_to_campaign(session: AsyncSession, campaign: Campaign, rows: list[Any]) -> BulkAddOut:
    """`add_contacts` for a caller that checked the campaign itself, with no user to check (a
    campaign's signed trigger URL): the campaign is locked and not read-only."""
    results: dict[int, RowResult] = {}
    checked = _checked_rows(campaign, rows, results)
    first, repeated = await _new_people(session, checked, results)
    if first:
        await _add_people(session, campaign, first, repeated, results)
        await assign_ab_variants(session, campaign)
    return _bulk_out(results, len(rows))


async def add_to_org(session: AsyncSession, org_id: uuid.UUID, rows: list[Any]) -> list[RowResult]:
    """The organization's people created (`created`) or updated (`updated`) from these rows,
    checked as a campaign's rows are but for the campaign's rules; a row repeating a person
    of the same call, or a suppressed person, is skipped."""
    results: dict[int, RowResult] = {}
    first, repeated = await _new_people(session, _checked_rows(None, rows, results), results)
    people = await _upsert_people(session, org_id, first) if first else {}
    for key, row in first.items():
        person = people[key]
        status: Literal["created", "updated"] = "created" if person.created else "updated"
        results[row.index] = RowResult(index=row.index, status=status, contact_id=person.id)
    for row in repeated:
        message = "This person is on an earlier row"
        results[row.index] = _skipped(row.index, "CONTACT_DUPLICATE", message, people[row.key].id)
    return [results[index] for index in range(len(rows))]


async def _upsert_people(
    session: AsyncSession, org_id: uuid.UUID, first: dict[str, _Row]
) -> dict[str, repository.Upserted]:
    # In key order, so that concurrent adds of the same people lock them in the same order
    # and cannot deadlock.
    people = [first[key].contact for key in sorted(first)]
    return await repository.upsert_contacts(
        session,
        org_id,
        [person.model_dump(mode="json", exclude={"contact_type"}) for person in people],
    )


async def add_people(
    session: AsyncSession, campaign: Campaign, contact_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Add these existing people to the campaign (locked, not read-only) with its default
    contact type, as a bulk add would: those on the do-not-contact list, those the campaign's
    channel cannot reach and those already in it are left out. Contact id to the new
    membership's id, for those added."""
    people = await repository.lock_contacts(session, contact_ids)
    suppressed = await suppressed_emails(
        session, [person.email for person in people if person.email is not None]
    )
    contact_type = DEFAULT_TYPE[CampaignType(campaign.campaign_type)]
    addable = {
        person.id: contact_type
        for person in people
        if not (person.email is not None and person.email.lower() in suppressed)
        and not _reachability_errors(campaign, person.email, person.lead_id, person.linkedin_url)
    }
    if not addable:
        return {}
    added = await repository.add_members(session, campaign.org_id, campaign.id, addable)
    if added:
        await assign_ab_variants(session, campaign)
    return added


# -- reads -------------------------------------------------------------------------------


def _out(member: Member) -> CampaignContactOut:
    fields = CampaignContactOut.model_fields.keys() - {"contact"}
    return CampaignContactOut(
        **{name: getattr(member.membership, name) for name in fields},
        contact=ContactOut.model_validate(member.contact),
    )


async def list_members(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    filters: MemberFilters,
    limit: int,
    cursor: str | None,
) -> Page[CampaignContactOut]:
    await get_campaign_facts(session, campaign_id)
    after = position_after(cursor)
    rows = await repository.list_members(session, campaign_id, filters, after, limit + 1)
    return page_of(rows, limit, _out)


async def _get_member(
    session: AsyncSession, campaign_id: uuid.UUID, member_id: uuid.UUID, *, for_update: bool
) -> Member:
    member = await repository.get_member(session, campaign_id, member_id, for_update=for_update)
    if member is None:
        raise not_found("Campaign contact")
    return member


async def get_member(
    session: AsyncSession, campaign_id: uuid.UUID, member_id: uuid.UUID
) -> CampaignContactOut:
    await get_campaign_facts(session, campaign_id)
    return _out(await _get_member(session, campaign_id, member_id, for_update=False))


# -- edits -------------------------------------------------------------------------------


def _membership_errors(
    campaign: Campaign, membership: CampaignContact, body: CampaignContactUpdate
) -> list[FieldError]:
    errors: list[FieldError] = []
    given = body.model_fields_set
    if "contact_type" in given:
        if body.contact_type is None:
            message = "contact_type cannot be cleared"
            errors.append(FieldError("contact_type", "FIELD_REQUIRED", message))
        else:
            errors += _type_errors(campaign, body.contact_type)
    if "ab_variant" in given and body.ab_variant != membership.ab_variant:
        if campaign.status != CampaignStatus.DRAFT:
            raise Conflict(
                "CAMPAIGN_FIELD_LOCKED",
                "ab_variant can change only while the campaign is a draft",
                "Once a campaign is scheduled or running, its A/B groups are fixed.",
            )
        if body.ab_variant is not None and not campaign.is_ab_test:
            message = "This campaign is not an A/B test"
            errors.append(FieldError("ab_variant", "CONTACT_AB_VARIANT_INVALID", message))
    return errors


def _given_person_fields(body: CampaignContactUpdate) -> tuple[dict[str, Any], dict[str, str]]:
    """The person's fields the body gives, at the top level or in `contact`, and where each
    was given (the field path its errors are reported at)."""
    given = body.model_dump(include=set(PERSON_FIELDS), exclude_unset=True)
    paths = {name: name for name in given}
    if body.contact is not None:
        nested = body.contact.model_dump(exclude_unset=True)
        given |= nested
        paths |= {name: f"contact.{name}" for name in nested}
    return given, paths


def person_changes(
    campaigns: Sequence[Campaign],
    person: Contact,
    given: dict[str, Any],
    paths: dict[str, str] | None = None,
) -> tuple[dict[str, Any], list[FieldError]]:
    """The person's fields to change (`given`: checked ContactFields, `null` clearing one), and
    what is wrong with the person they would make: someone each of `campaigns` can still reach
    (with none, someone with an email or a lead id). `paths`: where each field was given."""
    changes = dict(given)
    for name, empty in CLEARED_TO_EMPTY.items():
        if name in changes and changes[name] is None:
            changes[name] = empty()
    resulting = {
        name: changes.get(name, getattr(person, name))
        for name in ("email", "lead_id", "linkedin_url")
    }
    errors: dict[tuple[str, str], FieldError] = {}
    for campaign in campaigns:
        for error in _reachability_errors(campaign, **resulting):
            errors.setdefault((error.field, error.code), error)
    if resulting["email"] is None and resulting["lead_id"] is None:
        message = "A contact needs an email or a lead_id"
        error = FieldError("email", "CONTACT_EMAIL_REQUIRED", message)
        errors.setdefault((error.field, error.code), error)
    paths = paths or {}
    return changes, [
        replace(error, field=paths.get(error.field, error.field)) for error in errors.values()
    ]


def _member_person_changes(
    campaign: Campaign, person: Contact, body: CampaignContactUpdate
) -> tuple[dict[str, Any], list[FieldError]]:
    """The person's fields to change through a campaign contact, and what is wrong with them."""
    errors: list[FieldError] = []
    if "contact" in body.model_fields_set and body.contact is None:
        errors.append(FieldError("contact", "FIELD_REQUIRED", "contact cannot be null"))
    elif body.contact is not None:
        for name in sorted(body.contact.model_fields_set & body.model_fields_set):
            message = f"{name} is given twice: at the top level and in contact"
            errors.append(FieldError(f"contact.{name}", "CONTACT_FIELD_GIVEN_TWICE", message))
    changes, person_errors = person_changes([campaign], person, *_given_person_fields(body))
    return changes, errors + person_errors


async def check_identity_free(
    session: AsyncSession, person: Contact, changes: dict[str, Any]
) -> None:
    if not changes.keys() & {"email", "lead_id"}:
        return
    holder = await repository.find_contact_id(
        session, changes.get("email", person.email), changes.get("lead_id", person.lead_id)
    )
    if holder is not None and holder != person.id:
        raise Conflict(
            "CONTACT_DUPLICATE",
            "Another contact of the organization already has this email or lead_id",
        )


@dataclass(frozen=True)
class EditableMember:
    campaign: Campaign
    member: Member


async def editable_member(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, member_id: uuid.UUID
) -> EditableMember:
    """The campaign contact, locked for a change the caller may make: another organization's
    is not found, a campaign the caller does not own (recruiters) is forbidden."""
    campaign = await get_writable_campaign(session, principal, campaign_id)
    return EditableMember(
        campaign, await _get_member(session, campaign.id, member_id, for_update=True)
    )


async def update_member(
    session: AsyncSession, editable: EditableMember, body: CampaignContactUpdate
) -> CampaignContactOut:
    """Change the membership and, through it, the person (who may be in other campaigns too).
    The email may change, to one no other person of the organization has."""
    campaign, (membership, person) = editable.campaign, editable.member
    errors = _membership_errors(campaign, membership, body)
    changes, person_errors = _member_person_changes(campaign, person, body)
    if errors or person_errors:
        raise ValidationFailed(errors=errors + person_errors)
    await check_identity_free(session, person, changes)
    for name, value in changes.items():
        setattr(person, name, value)
    for name in body.model_fields_set & MEMBERSHIP_FIELDS:
        setattr(membership, name, getattr(body, name))
    await session.flush()
    await session.refresh(membership)
    await session.refresh(person)
    return _out(Member(membership, person))


async def remove_member(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, member_id: uuid.UUID
) -> None:
    """Take the person out of the campaign; the organization's contact stays."""
    campaign = await get_writable_campaign(session, principal, campaign_id)
    if not await repository.delete_member(session, campaign.id, member_id):
        raise not_found("Campaign contact")


# -- changes made by automation (sequence actions) ---------------------------------------


@dataclass(frozen=True)
class ContactChange:
    """What an automated change did to one person: `data` says what changed (for the event
    log), or `code` and `message` say why this person was left as they were."""

    contact_id: uuid.UUID
    data: dict[str, Any] = field(default_factory=dict)
    code: str | None = None
    message: str | None = None

    @property
    def applied(self) -> bool:
        return self.code is None


# Checks a change against one person and makes it: what changed, or why it cannot be made.
_Change = Callable[[Contact], dict[str, Any] | FieldError]

_TAGS = TypeAdapter(Tags)
_CUSTOM_FIELDS = TypeAdapter(CustomFields)


async def _change_each(
    session: AsyncSession, contact_ids: Sequence[uuid.UUID], change: _Change
) -> dict[uuid.UUID, ContactChange]:
    """`change` made to each person that exists, in one flush; one person's refusal leaves the
    others' changes standing."""
    found = {
        contact.id: contact for contact in await repository.lock_contacts(session, contact_ids)
    }
    results: dict[uuid.UUID, ContactChange] = {}
    for contact_id in dict.fromkeys(contact_ids):
        contact = found.get(contact_id)
        outcome = (
            change(contact)
            if contact is not None
            else FieldError("contact_id", "CONTACT_NOT_FOUND", "The contact no longer exists")
        )
        results[contact_id] = (
            ContactChange(contact_id, code=outcome.code, message=outcome.message)
            if isinstance(outcome, FieldError)
            else ContactChange(contact_id, data=outcome)
        )
    await session.flush()
    return results


def _first_error(exc: ValidationError, prefix: str | None = None) -> FieldError:
    """The first of pydantic's errors in the API's vocabulary, its message saying where."""
    error = field_error(dict(exc.errors()[0]))
    if prefix is None:
        path = error.field
    else:
        path = prefix if error.field == "body" else f"{prefix}.{error.field}"
    return FieldError(path, error.code, f"{path}: {error.message}")


async def change_tags(
    session: AsyncSession,
    contact_ids: Sequence[uuid.UUID],
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> dict[uuid.UUID, ContactChange]:
    """Take the `remove` tags off these people, then give them the `add` tags (a tag in both
    ends up on). A person whose tags would break the API's rules (count, length) is refused.
    `data`: the tags `added` (the person did not have them) and `removed` (they had them)."""
    gone = frozenset(remove) - frozenset(add)

    def change(contact: Contact) -> dict[str, Any] | FieldError:
        kept = [tag for tag in contact.tags if tag not in gone]
        added = [tag for tag in dict.fromkeys(add) if tag not in kept]
        try:
            tags = _TAGS.validate_python([*kept, *added])
        except ValidationError as exc:
            return _first_error(exc, "tags")
        removed = [tag for tag in contact.tags if tag in gone]
        contact.tags = tags
        return {"added": [tag for tag in tags if tag in added], "removed": removed}

    return await _change_each(session, contact_ids, change)


async def change_score(
    session: AsyncSession, contact_ids: Sequence[uuid.UUID], delta: int
) -> dict[uuid.UUID, ContactChange]:
    """Move these people's score by `delta`, held within MIN_SCORE..MAX_SCORE (a score at a
    bound stays there). `data`: the `delta` asked, the score `from` and `to`."""

    def change(contact: Contact) -> dict[str, Any]:
        before = contact.score
        contact.score = min(MAX_SCORE, max(MIN_SCORE, before + delta))
        return {"delta": delta, "from": before, "to": contact.score}

    return await _change_each(session, contact_ids, change)


def _custom_field_change(name: str, value: Any) -> _Change:
    field_name = f"{CUSTOM_FIELD_PREFIX}{name}"

    def change(contact: Contact) -> dict[str, Any] | FieldError:
        before = contact.custom_fields.get(name)
        others = {key: item for key, item in contact.custom_fields.items() if key != name}
        try:
            # The whole of the person's custom fields, so that the count and size bounds hold.
            custom = _CUSTOM_FIELDS.validate_python(
                others if value is None else {**others, name: value}
            )
        except ValidationError as exc:
            return _first_error(exc, "custom_fields")
        contact.custom_fields = custom
        return {"field": field_name, "from": before, "to": value}

    return change


def _person_field_change(name: str, value: Any) -> _Change | FieldError:
    try:
        checked = ContactFields.model_validate({name: value})
    except ValidationError as exc:
        return _first_error(exc)
    new = getattr(checked, name)

    def change(contact: Contact) -> dict[str, Any]:
        before = getattr(contact, name)
        setattr(contact, name, new)
        return {"field": name, "from": before, "to": new}

    return change


def _field_change(name: str, value: Any) -> _Change | FieldError:
    if name in AUTOMATED_FIELDS:
        return _person_field_change(name, value)
    custom = name.removeprefix(CUSTOM_FIELD_PREFIX)
    if custom != name:
        return _custom_field_change(custom, value)
    allowed = ", ".join(AUTOMATED_FIELDS)
    message = f"{name} cannot be set by automation: use {allowed} or custom.<name>"
    return FieldError("field", "CONTACT_FIELD_NOT_UPDATABLE", message)


async def update_field(
    session: AsyncSession, contact_ids: Sequence[uuid.UUID], name: str, value: Any
) -> dict[uuid.UUID, ContactChange]:
    """Set one field of these people, checked as the contacts API checks it: a person field of
    AUTOMATED_FIELDS (None clears it) or `custom.<name>` (None removes the key). `data`: the
    `field`, its value `from` and `to`."""
    change = _field_change(name, value)
    if isinstance(change, FieldError):
        refused = change
        return {
            contact_id: ContactChange(contact_id, code=refused.code, message=refused.message)
            for contact_id in dict.fromkeys(contact_ids)
        }
    return await _change_each(session, contact_ids, change)
