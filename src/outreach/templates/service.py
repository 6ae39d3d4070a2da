"""Message template rules: channel shapes, personalization tokens, LinkedIn limits, previews."""

import uuid
from dataclasses import astuple

from jinja2 import TemplateError, TemplateSyntaxError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, FieldError, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.kit.text import CONTROL_CHARACTERS, control_characters_problem
from outreach.models import MessageTemplate
from outreach.templates import repository
from outreach.templates.compose import MessageText, render_message
from outreach.templates.rendering import (
    KNOWN_TOKENS,
    Personalization,
    Renderer,
    custom_keys,
    find_tokens,
    unknown_tokens,
)
from outreach.templates.sandbox import StaticLimitExceeded, TagNotAllowed, TemplateLimitExceeded
from outreach.templates.schemas import (
    PreviewIn,
    PreviewOut,
    TemplateIn,
    TemplateOut,
    TemplatePatch,
)

CONTENT_FIELDS = ("subject", "body_text", "body_html")
# LinkedIn's own limits, counted on the template as written (as the database checks it)
LINKEDIN_LIMITS = {
    "connection_request": (300, "TEMPLATE_CONNECTION_REQUEST_TOO_LONG", "Connection requests"),
    "inmail": (1900, "TEMPLATE_INMAIL_TOO_LONG", "InMails"),
}
SAMPLE_VALUES = {
    "first_name": "Alex",
    "last_name": "Morgan",
    "full_name": "Alex Morgan",
    "email": "alex.morgan@example.com",
    "company_name": "Acme Corp",
    "title": "Head of Engineering",
    "linkedin_url": "https://www.linkedin.com/in/alex-morgan",
    "phone": "+1 555 0100",
    "sender_name": "Sam Taylor",
    "campaign_name": "Sample campaign",
}


async def list_templates(
    session: AsyncSession,
    *,
    channel: str | None,
    q: str | None,
    limit: int,
    cursor: str | None,
) -> Page[TemplateOut]:
    rows = await repository.list_templates(
        session, channel=channel, name_contains=q, after=position_after(cursor), limit=limit
    )
    return page_of(rows, limit, TemplateOut.model_validate)


async def get_template(session: AsyncSession, template_id: uuid.UUID) -> TemplateOut:
    return TemplateOut.model_validate(await _get(session, template_id))


async def create_template(
    session: AsyncSession, principal: Principal, renderer: Renderer, template: TemplateIn
) -> TemplateOut:
    require_writer(principal)
    await check_template(renderer, template)
    created = await repository.add_template(
        session,
        MessageTemplate(
            org_id=principal.org_id, created_by=principal.user_id, **template.model_dump()
        ),
    )
    return TemplateOut.model_validate(created)


async def update_template(
    session: AsyncSession,
    principal: Principal,
    renderer: Renderer,
    template_id: uuid.UUID,
    patch: TemplatePatch,
) -> TemplateOut:
    template = await _get(session, template_id, for_update=True)
    require_owner_or_manager(principal, template.created_by, "templates")
    changes = patch.model_dump(exclude_unset=True)
    current = {field: getattr(template, field) for field in TemplateIn.model_fields}
    await check_template(renderer, TemplateIn.model_construct(**(current | changes)))
    return TemplateOut.model_validate(await repository.update_template(session, template, changes))


async def delete_template(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID
) -> None:
    template = await _get(session, template_id, for_update=True)
    require_owner_or_manager(principal, template.created_by, "templates")
    if not await repository.delete_template(session, template):
        raise Conflict(
            "TEMPLATE_IN_USE",
            "Template is used by a campaign",
            "Point its campaigns and campaign contacts at another template first.",
        )


async def preview_template(
    session: AsyncSession,
    principal: Principal,
    renderer: Renderer,
    template_id: uuid.UUID,
    preview: PreviewIn,
) -> PreviewOut:
    template = await _get(session, template_id)
    contact = None
    if preview.contact_id is not None:
        contact = await repository.get_contact(session, preview.contact_id)
        if contact is None:
            raise not_found("Contact")
    text = MessageText(template.subject, template.body_text, template.body_html)
    own = contact and Personalization.for_contact(
        contact,
        sender_name=principal.name or SAMPLE_VALUES["sender_name"],
        campaign_name=SAMPLE_VALUES["campaign_name"],
    )

    def work() -> tuple[MessageText, list[str]]:
        personalization = own or _sample_personalization(
            set().union(*(find_tokens(part) for part in astuple(text) if part))
        )
        return render_message(text, personalization, seconds=renderer.seconds)

    try:
        rendered, missing = await renderer.run(work)
    except TemplateError as exc:
        raise ValidationFailed(*render_problem(exc), str(exc)) from exc
    return PreviewOut(**vars(rendered), missing_values=missing)


def render_problem(exc: TemplateError) -> tuple[str, str]:
    """The code and title of a template that cannot be rendered."""
    if isinstance(exc, TemplateLimitExceeded | StaticLimitExceeded):
        return "TEMPLATE_LIMIT_EXCEEDED", "The template is over a rendering limit"
    if isinstance(exc, TagNotAllowed):
        return "TEMPLATE_TAG_NOT_ALLOWED", "The template uses a tag that is not allowed"
    return "TEMPLATE_RENDER_FAILED", "The template could not be rendered"


def _sample_personalization(tokens: set[str]) -> Personalization:
    """Sample values: each custom field shows as `[key]`."""
    return Personalization(
        values=SAMPLE_VALUES, custom={key: f"[{key}]" for key in custom_keys(tokens)}
    )


async def _get(
    session: AsyncSession, template_id: uuid.UUID, *, for_update: bool = False
) -> MessageTemplate:
    template = await repository.get_template(session, template_id, for_update=for_update)
    if template is None:
        raise not_found("Template")
    return template


def template_errors(template: TemplateIn) -> list[FieldError]:
    """Every rule the template breaks. Also the rules of a message's text as a person edits
    it before approval, so an edited message is held to its template's standard. Compiles
    the template: see `template_errors_off_loop`."""
    return _shape_errors(template) + _subject_errors(template) + _content_errors(template)


async def template_errors_off_loop(renderer: Renderer, template: TemplateIn) -> list[FieldError]:
    try:
        return await renderer.run(lambda: template_errors(template))
    except TemplateLimitExceeded as exc:
        raise ValidationFailed(
            "TEMPLATE_LIMIT_EXCEEDED", "The template is too long to check", str(exc)
        ) from exc


async def check_template(renderer: Renderer, template: TemplateIn) -> None:
    """Every rule on the whole template, all broken ones reported at once. Off the event
    loop: compiling a long template takes long."""
    errors = await template_errors_off_loop(renderer, template)
    if len(errors) == 1:
        raise ValidationFailed.field(errors[0].field, errors[0].code, errors[0].message)
    if errors:
        raise ValidationFailed(errors=errors)


def _shape_errors(template: TemplateIn) -> list[FieldError]:
    """Which fields the channel needs and which it has no use for."""
    errors = []
    is_email, is_linkedin = template.channel == "email", template.channel == "linkedin"
    if is_linkedin and template.linkedin_kind is None:
        errors.append(
            FieldError(
                "linkedin_kind",
                "TEMPLATE_LINKEDIN_KIND_REQUIRED",
                "LinkedIn templates need a linkedin_kind: connection_request or inmail",
            )
        )
    if not is_linkedin and template.linkedin_kind is not None:
        errors.append(
            FieldError(
                "linkedin_kind",
                "TEMPLATE_LINKEDIN_KIND_NOT_ALLOWED",
                "linkedin_kind is only for LinkedIn templates",
            )
        )
    if is_email and template.subject is None:
        errors.append(
            FieldError("subject", "TEMPLATE_SUBJECT_REQUIRED", "Email templates need a subject")
        )
    if is_email and template.body_text is None and template.body_html is None:
        errors.append(
            FieldError(
                "body_text", "TEMPLATE_BODY_REQUIRED", "Email templates need body_text or body_html"
            )
        )
    if not is_email and template.body_text is None:
        errors.append(
            FieldError(
                "body_text",
                "TEMPLATE_BODY_REQUIRED",
                f"{template.channel} templates need body_text",
            )
        )
    if not is_email and template.body_html is not None:
        errors.append(_not_allowed("body_html", "body_html is only for email templates"))
    if template.subject is not None and not (is_email or template.linkedin_kind == "inmail"):
        errors.append(_not_allowed("subject", "Only email and InMail templates have a subject"))
    return errors


def _subject_errors(template: TemplateIn) -> list[FieldError]:
    """The schema refuses such a subject; this also holds a stored one (saved before the rule)
    and an approval's edit to it."""
    problem = template.subject and control_characters_problem(template.subject)
    return [FieldError("subject", CONTROL_CHARACTERS, problem)] if problem else []


def _not_allowed(field: str, message: str) -> FieldError:
    return FieldError(field, "TEMPLATE_FIELD_NOT_ALLOWED", message)


def _content_errors(template: TemplateIn) -> list[FieldError]:
    """Template syntax, personalization tokens and LinkedIn's length limits."""
    errors = []
    for field in CONTENT_FIELDS:
        source = getattr(template, field)
        if source is None:
            continue
        try:
            tokens = find_tokens(source)
        except TemplateSyntaxError as exc:
            code, reason = _SYNTAX_CODES.get(
                type(exc), ("TEMPLATE_SYNTAX_INVALID", "not a valid template")
            )
            errors.append(
                FieldError(field, code, f"{field} is {reason}: {exc.message} (line {exc.lineno})")
            )
            continue
        unknown = unknown_tokens(tokens)
        if unknown:
            errors.append(
                FieldError(
                    field,
                    "TEMPLATE_UNKNOWN_TOKEN",
                    f"Unknown personalization tokens: {', '.join(unknown)}. Known: "
                    f"{', '.join(sorted(KNOWN_TOKENS))} and custom.<key>",
                )
            )
        if field == "body_text" and template.channel == "linkedin":
            errors += _linkedin_errors(template, source, tokens)
    return errors


_SYNTAX_CODES = {
    TagNotAllowed: ("TEMPLATE_TAG_NOT_ALLOWED", "using a tag that is not allowed"),
    StaticLimitExceeded: ("TEMPLATE_LIMIT_EXCEEDED", "over a rendering limit"),
}


def _linkedin_errors(
    template: TemplateIn, body_text: str, tokens: frozenset[str]
) -> list[FieldError]:
    errors = []
    if template.linkedin_kind in LINKEDIN_LIMITS:
        limit, code, kind = LINKEDIN_LIMITS[template.linkedin_kind]
        if len(body_text) > limit:
            errors.append(
                FieldError(
                    "body_text",
                    code,
                    f"{kind} are limited to {limit:,} characters; this one has {len(body_text):,}",
                )
            )
    if not tokens:
        errors.append(
            FieldError(
                "body_text",
                "TEMPLATE_PERSONALIZATION_REQUIRED",
                "LinkedIn messages need at least one personalization token, such as {{first_name}}",
            )
        )
    return errors
