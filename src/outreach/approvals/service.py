"""Approval rules (co-pilot): a person previews, edits, approves or rejects a suggested message.

Who decides: the campaign's owner, an admin or a TA manager. A message is decided once, while
it awaits approval and its campaign runs (active or paused); approving queues it to send now.
"""

import uuid
from typing import Any, cast

from jinja2 import TemplateError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.approvals import repository
from outreach.approvals.repository import AWAITING, ApprovalRow
from outreach.approvals.schemas import (
    ApprovalContactOut,
    ApprovalOut,
    ApproveIn,
    ApproveManyIn,
    ApproveManyOut,
    BulkOutcome,
    BulkResult,
    MessagePreview,
    RejectIn,
)
from outreach.auth.dependencies import require_owner_or_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.errors import AppError, Conflict, FieldError, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.kit.problems import FieldErrorOut
from outreach.sending.outbox import service as outbox
from outreach.tasks.service import require_running
from outreach.templates.compose import Composer, MessageText
from outreach.templates.rendering import Personalization, Renderer
from outreach.templates.sandbox import TemplateLimitExceeded
from outreach.templates.schemas import Channel, TemplateIn
from outreach.templates.service import render_problem, template_errors, template_errors_off_loop

# -- reads -------------------------------------------------------------------------------


async def list_approvals(
    session: AsyncSession,
    renderer: Renderer,
    *,
    campaign_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[ApprovalOut]:
    rows = await repository.list_pending(
        session, campaign_id=campaign_id, after=position_after(cursor), limit=limit
    )
    previews = await _previews(renderer, rows[:limit])
    return page_of(rows, limit, lambda row: approval_out(row, previews[row.id]))


async def get_approval(
    session: AsyncSession, renderer: Renderer, message_id: uuid.UUID
) -> ApprovalOut:
    return await _out_of(renderer, await _get(session, message_id))


def message_text(row: ApprovalRow) -> MessageText:
    """What the message says before it is filled in: its template, under any edits."""
    template, message = row.template, row.message
    own = (
        MessageText(template.subject, template.body_text, template.body_html)
        if template is not None
        else MessageText()
    )
    return own.under(
        MessageText(
            message.subject_override, message.body_text_override, message.body_html_override
        )
    )


def _text_errors(channel: str, text: MessageText) -> list[FieldError]:
    return template_errors(_checked(channel, text))


def _checked(channel: str, text: MessageText) -> TemplateIn:
    # The template's own rules for its channel (shape, syntax, known tokens)
    return TemplateIn.model_construct(
        name="message",
        channel=cast(Channel, channel),  # the outbox's check allows email and sms only
        linkedin_kind=None,
        subject=text.subject,
        body_text=text.body_text,
        body_html=text.body_html,
    )


async def _previews(renderer: Renderer, rows: list[ApprovalRow]) -> dict[uuid.UUID, MessagePreview]:
    """Each row's preview, rendered off the event loop within the time limit per message."""
    composer = Composer(renderer.seconds)
    texts = [
        (
            row.message.channel,
            message_text(row),
            Personalization.for_contact(
                row.contact, sender_name=row.sender_name or "", campaign_name=row.campaign_name
            ),
        )
        for row in rows
    ]
    try:
        previews = await renderer.run(
            lambda: [preview(*text, composer) for text in texts], messages=len(rows)
        )
    except TemplateLimitExceeded as exc:
        previews = [_unrenderable([], exc)] * len(rows)
    return {row.id: item for row, item in zip(rows, previews, strict=True)}


def preview(
    channel: str, text: MessageText, personalization: Personalization, composer: Composer
) -> MessagePreview:
    problems = _text_errors(channel, text)
    try:
        rendered, missing = composer.render(text, personalization)
    except TemplateError as exc:
        return _unrenderable(problems, exc)
    if missing:
        problems.append(
            FieldError(
                "contact",
                "PREVIEW_MISSING_VALUES",
                f"No value for {', '.join(missing)}: rendered as empty text",
            )
        )
    return MessagePreview(
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        missing_values=missing,
        problems=_out(problems),
    )


def _unrenderable(problems: list[FieldError], exc: TemplateError) -> MessagePreview:
    code, _ = render_problem(exc)
    if code == "TEMPLATE_RENDER_FAILED":
        code = "PREVIEW_RENDER_FAILED"
    problem = FieldError("body", code, f"Cannot be rendered: {exc}")
    return MessagePreview(
        subject=None,
        body_text=None,
        body_html=None,
        missing_values=[],
        problems=_out(problems or [problem]),
    )


def _out(errors: list[FieldError]) -> list[FieldErrorOut]:
    return [FieldErrorOut(**error.as_dict()) for error in errors]


def approval_out(row: ApprovalRow, preview: MessagePreview) -> ApprovalOut:
    message = row.message
    edits = (message.subject_override, message.body_text_override, message.body_html_override)
    return ApprovalOut(
        id=message.id,
        campaign_id=message.campaign_id,
        campaign_name=row.campaign_name,
        campaign_contact_id=message.campaign_contact_id,
        channel=message.channel,
        status=message.status,
        sender_id=message.sender_id,
        template_id=message.template_id,
        edited=any(edit is not None for edit in edits),
        due_at=message.due_at,
        decided_by=message.decided_by,
        decided_at=message.decided_at,
        rejection_reason=message.last_error if message.status == "rejected" else None,
        contact=ApprovalContactOut.model_validate(row.contact),
        preview=preview,
        created_at=message.created_at,
        updated_at=message.updated_at,
    )


# -- decisions ---------------------------------------------------------------------------


async def approve(
    session: AsyncSession,
    principal: Principal,
    renderer: Renderer,
    message_id: uuid.UUID,
    edits: ApproveIn,
) -> ApprovalOut:
    """Queued to send now, with the person's edits kept in the message's override columns."""
    row = await _get(session, message_id, for_update=True)
    _check_decidable(principal, row)
    given = edits.model_dump(exclude_none=True)
    edited = message_text(row).under(MessageText(**given))
    errors = await template_errors_off_loop(renderer, _checked(row.message.channel, edited))
    if errors:
        raise ValidationFailed(errors=errors)
    overrides = {f"{part}_override": text for part, text in given.items()}
    await outbox.decide(session, [message_id], _approved(principal) | overrides)
    return await _reloaded(session, renderer, row)


async def reject(
    session: AsyncSession,
    principal: Principal,
    renderer: Renderer,
    message_id: uuid.UUID,
    body: RejectIn,
) -> ApprovalOut:
    """Not sent, ever; the reason is kept. The contact is not contacted by this message."""
    row = await _get(session, message_id, for_update=True)
    _check_decidable(principal, row, needs_running=False)
    values = {"status": "rejected", "decided_by": principal.user_id, "last_error": body.reason}
    await outbox.decide(session, [message_id], values)
    return await _reloaded(session, renderer, row)


async def approve_many(
    session: AsyncSession, principal: Principal, renderer: Renderer, body: ApproveManyIn
) -> ApproveManyOut:
    """Approve without edits, row by row: each message is approved or says why not, and one
    message's refusal holds back no other."""
    require_writer(principal)
    ids = list(dict.fromkeys(body.ids))  # a repeated id is answered once
    found = {row.id: row for row in await repository.get_messages(session, ids, for_update=True)}
    checked = {row.id: _checked(row.message.channel, message_text(row)) for row in found.values()}
    text_errors = await renderer.run(
        lambda: {row_id: template_errors(text) for row_id, text in checked.items()},
        messages=len(checked),
    )
    results, approvable = [], []
    for message_id in ids:
        row = found.get(message_id)
        outcome, errors = (
            (BulkOutcome.NOT_FOUND, [])
            if row is None
            else _bulk_outcome(principal, row, text_errors[message_id])
        )
        if outcome is BulkOutcome.APPROVED:
            approvable.append(message_id)
        results.append(BulkResult(id=message_id, outcome=outcome, errors=_out(errors)))
    if approvable:
        await outbox.decide(session, approvable, _approved(principal))
    return ApproveManyOut(approved=len(approvable), results=results)


def _bulk_outcome(
    principal: Principal, row: ApprovalRow, errors: list[FieldError]
) -> tuple[BulkOutcome, list[FieldError]]:
    try:
        _check_decidable(principal, row)
    except AppError as exc:
        return _BULK_CODES.get(exc.code, BulkOutcome.FORBIDDEN), []
    return (BulkOutcome.INVALID, errors) if errors else (BulkOutcome.APPROVED, [])


_BULK_CODES = {
    "APPROVAL_NOT_PENDING": BulkOutcome.NOT_PENDING,
    "CAMPAIGN_NOT_ACTIVE": BulkOutcome.CAMPAIGN_NOT_ACTIVE,
    "FORBIDDEN": BulkOutcome.FORBIDDEN,
}


def _check_decidable(principal: Principal, row: ApprovalRow, *, needs_running: bool = True) -> None:
    """A rejection is allowed once the campaign stopped (it only says no); an approval not."""
    require_owner_or_manager(principal, row.campaign_owner_id)
    if row.message.status != AWAITING:
        raise Conflict(
            "APPROVAL_NOT_PENDING",
            f"Message is {row.message.status}",
            "Only a message awaiting approval can be approved or rejected.",
        )
    if needs_running:
        require_running(row.campaign_status)


def _approved(principal: Principal) -> dict[str, Any]:
    return {"status": "queued", "decided_by": principal.user_id, "due_at": func.now()}


async def _get(
    session: AsyncSession, message_id: uuid.UUID, *, for_update: bool = False
) -> ApprovalRow:
    row = await repository.get_message(session, message_id, for_update=for_update)
    if row is None:
        raise not_found("Approval")
    return row


async def _reloaded(session: AsyncSession, renderer: Renderer, row: ApprovalRow) -> ApprovalOut:
    await repository.reload(session, row.message)
    return await _out_of(renderer, row)


async def _out_of(renderer: Renderer, row: ApprovalRow) -> ApprovalOut:
    return approval_out(row, (await _previews(renderer, [row]))[row.id])
