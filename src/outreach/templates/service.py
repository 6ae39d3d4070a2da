"""Message template rules: channel shapes, personalization tokens, LinkedIn limits, previews."""

import uuid

from jinja2 import TemplateError, TemplateSyntaxError
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.auth.dependencies import require_owner_or_manager, require_writer
from outreach.auth.tokens import Principal
from outreach.errors import Conflict, FieldError, ValidationFailed, not_found
from outreach.kit.keyset import page_of, position_after
from outreach.kit.pagination import Page
from outreach.kit.text import CONTROL_CHARACTERS, control_characters_problem
from outreach.models import Contact, MessageTemplate
from outreach.templates import repository
from outreach.templates.rendering import (
    KNOWN_TOKENS,
    Personalization,
    custom_keys,
    find_tokens,
    render,
    unknown_tokens,
)
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
    session: AsyncSession, principal: Principal, template: TemplateIn
) -> TemplateOut:
    require_writer(principal)
    check_template(template)
    created = await repository.add_template(
        session,
        MessageTemplate(
            org_id=principal.org_id, created_by=principal.user_id, **template.model_dump()
        ),
    )
    return TemplateOut.model_validate(created)


async def update_template(
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, patch: TemplatePatch
) -> TemplateOut:
    template = await _get(session, template_id, for_update=True)
    require_owner_or_manager(principal, template.created_by, "templates")
    changes = patch.model_dump(exclude_unset=True)
    current = {field: getattr(template, field) for field in TemplateIn.model_fields}
    check_template(TemplateIn.model_construct(**(current | changes)))
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
    session: AsyncSession, principal: Principal, template_id: uuid.UUID, preview: PreviewIn
) -> PreviewOut:
    template = await _get(session, template_id)
    contact = None
    if preview.contact_id is not None:
        contact = await repository.get_contact(session, preview.contact_id)
        if contact is None:
            raise not_found("Contact")
    sources = {field: getattr(template, field) for field in CONTENT_FIELDS}
    try:
        tokens: set[str] = set().union(
            *(find_tokens(source) for source in sources.values() if source)
        )
        personalization = _preview_personalization(principal, contact, tokens)
        rendered = {
            field: source and render(source, personalization, html=field == "body_html")
            for field, source in sources.items()
        }
    except TemplateError as exc:
        raise ValidationFailed(
            "TEMPLATE_RENDER_FAILED", "The template could not be rendered", str(exc)
        ) from exc
    return PreviewOut(**rendered, missing_values=personalization.missing(tokens))


def _preview_personalization(
    principal: Principal, contact: Contact | None, tokens: set[str]
) -> Personalization:
    """The contact's values, or sample ones: each custom field shows as `[key]`."""
    if contact is None:
        custom = {key: f"[{key}]" for key in custom_keys(tokens)}
        return Personalization(values=SAMPLE_VALUES, custom=custom)
    return Personalization.for_contact(
        contact,
        sender_name=principal.name or SAMPLE_VALUES["sender_name"],
        campaign_name=SAMPLE_VALUES["campaign_name"],
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
    it before approval, so an edited message is held to its template's standard."""
    return _shape_errors(template) + _subject_errors(template) + _content_errors(template)


def check_template(template: TemplateIn) -> None:
    """Every rule on the whole template, all broken ones reported at once."""
    errors = template_errors(template)
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
            errors.append(
                FieldError(
                    field,
                    "TEMPLATE_SYNTAX_INVALID",
                    f"{field} is not a valid template: {exc.message} (line {exc.lineno})",
                )
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


def _linkedin_errors(template: TemplateIn, body_text: str, tokens: set[str]) -> list[FieldError]:
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
