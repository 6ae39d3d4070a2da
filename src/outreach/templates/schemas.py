"""Message template bodies and answers."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from outreach.kit.text import OneLine

Channel = Literal["email", "linkedin", "sms"]
LinkedInKind = Literal["connection_request", "inmail"]

NAME_MAX_LENGTH = 200


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise PydanticCustomError("TEMPLATE_NAME_REQUIRED", "Template name is required")
    if len(name) > NAME_MAX_LENGTH:
        raise PydanticCustomError(
            "TEMPLATE_NAME_TOO_LONG", "Template name must be at most 200 characters"
        )
    return name


def _blank_to_none(text: str | None) -> str | None:
    # a blank subject or body is no subject or body: the channel rules then say what is missing
    return text if text and text.strip() else None


Name = Annotated[str, AfterValidator(_clean_name)]
Subject = Annotated[str | None, Field(max_length=998), AfterValidator(_blank_to_none), OneLine]
Body = Annotated[str | None, Field(max_length=100_000), AfterValidator(_blank_to_none)]


# The codes of the template rules a message's text must follow (templates/service.py).
TEMPLATE_RULE_CODES = [
    "TEMPLATE_BODY_REQUIRED",
    "TEMPLATE_CONNECTION_REQUEST_TOO_LONG",
    "TEMPLATE_INMAIL_TOO_LONG",
    "TEMPLATE_FIELD_NOT_ALLOWED",
    "TEMPLATE_LIMIT_EXCEEDED",
    "TEMPLATE_LINKEDIN_KIND_NOT_ALLOWED",
    "TEMPLATE_LINKEDIN_KIND_REQUIRED",
    "TEMPLATE_PERSONALIZATION_REQUIRED",
    "TEMPLATE_SUBJECT_REQUIRED",
    "TEMPLATE_SYNTAX_INVALID",
    "TEMPLATE_TAG_NOT_ALLOWED",
    "TEMPLATE_UNKNOWN_TOKEN",
]


class TemplateIn(BaseModel):
    """A new template. Tokens are Jinja2 expressions such as `{{first_name}}` or
    `{{custom.team}}`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "First touch",
                    "channel": "email",
                    "subject": "{{first_name}}, a role at {{custom.team}}",
                    "body_text": "Hi {{first_name}},\n\nWould you have 15 minutes this week?",
                },
                {
                    "name": "Connect",
                    "channel": "linkedin",
                    "linkedin_kind": "connection_request",
                    "body_text": "Hi {{first_name}}, I enjoyed your talk on {{custom.topic}}.",
                },
            ]
        },
    )

    name: Name
    channel: Channel
    linkedin_kind: LinkedInKind | None = Field(
        None, description="Required for `linkedin`, forbidden otherwise"
    )
    subject: Subject = Field(None, description="Required for `email`; also allowed for InMail")
    body_text: Body = Field(
        None, description="Required for `linkedin` and `sms`; `email` needs it or `body_html`"
    )
    body_html: Body = Field(None, description="`email` only")


class TemplatePatch(BaseModel):
    """A partial change: absent fields stay, `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    channel: Channel | None = None
    linkedin_kind: LinkedInKind | None = None
    subject: Subject = None
    body_text: Body = None
    body_html: Body = None

    @field_validator("name", "channel")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        if value is None:
            raise PydanticCustomError("VALUE_REQUIRED", "This field cannot be cleared")
        return value


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    channel: Channel
    linkedin_kind: LinkedInKind | None
    subject: str | None
    body_text: str | None
    body_html: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: uuid.UUID | None = Field(
        None, description="An organization contact to render for; sample data when absent"
    )


class PreviewOut(BaseModel):
    subject: str | None
    body_text: str | None
    body_html: str | None
    missing_values: list[str] = Field(
        description="Tokens the contact has no value for: they render as empty text"
    )
