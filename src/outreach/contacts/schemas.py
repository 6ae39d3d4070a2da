"""Request and answer shapes of a campaign's contacts, with the field rules pydantic checks."""

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from outreach.kit import timezones
from outreach.kit.problems import FieldErrorOut
from outreach.kit.text import OneLine, refuse_control_characters

MAX_BATCH = 1000
# A contact's score moves within these bounds (sequence actions change it by a delta).
MIN_SCORE = 0
MAX_SCORE = 1_000_000
LINKEDIN_URL_PATTERN = r"^https?://(www\.)?linkedin\.com/in/[a-zA-Z0-9-]+/?$"

ContactType = Literal["candidate", "hiring_manager", "decision_maker", "referral"]
AbVariant = Literal["A", "B"]
LeadTier = Literal["hot", "warm", "cold"]


def _coded(code: str, message: str) -> WrapValidator:
    """Report any failure of the wrapped type under the API's own error code."""

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(code, message) from None

    return WrapValidator(validate)


def _known_timezone(name: str) -> str:
    if not timezones.is_known(name):
        raise ValueError("unknown time zone")
    return name


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


Email = Annotated[
    EmailStr, _coded("CONTACT_EMAIL_INVALID", "Invalid email address format"), OneLine
]
LinkedInUrl = Annotated[
    str,
    StringConstraints(pattern=LINKEDIN_URL_PATTERN),
    _coded(
        "CONTACT_LINKEDIN_URL_INVALID",
        "LinkedIn URL must look like https://www.linkedin.com/in/name",
    ),
    OneLine,
]
Timezone = Annotated[
    str,
    AfterValidator(_known_timezone),
    _coded("CONTACT_TIMEZONE_INVALID", "Unknown time zone: use an IANA name like Europe/Paris"),
]
ContactTypeField = Annotated[
    ContactType,
    _coded(
        "CONTACT_TYPE_INVALID",
        "contact_type must be candidate, hiring_manager, decision_maker or referral",
    ),
]


def _one_line_strings(value: Any) -> Any:
    """Every string in a custom field's value (nested ones too) may become personalization."""
    if isinstance(value, dict):
        for item in value.values():
            _one_line_strings(item)
    elif isinstance(value, list):
        for item in value:
            _one_line_strings(item)
    return refuse_control_characters(value)


def _small_json(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > 8192:
        raise PydanticCustomError("CUSTOM_FIELDS_TOO_LARGE", "custom_fields must stay under 8 KB")
    return value


CustomFields = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=64), OneLine],
        Annotated[Any, AfterValidator(_one_line_strings)],
    ],
    Field(max_length=50),
    AfterValidator(_small_json),
]
Tags = Annotated[
    list[
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), OneLine
        ]
    ],
    Field(max_length=50),
    AfterValidator(_unique),
]


# The codes of ContactFields' own checks (a 422 of a route taking them; a bulk add's rows carry
# them in their results instead).
CONTACT_FIELD_CODES = [
    "CONTACT_EMAIL_INVALID",
    "CONTACT_LINKEDIN_URL_INVALID",
    "CONTACT_TIMEZONE_INVALID",
    "CONTACT_TYPE_INVALID",
    "CUSTOM_FIELDS_TOO_LARGE",
]


class ContactFields(BaseModel):
    """The org-level person's editable fields (PATCH: `null` clears one)."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    lead_id: uuid.UUID | None = None
    first_name: Annotated[str, StringConstraints(max_length=100), OneLine] | None = None
    last_name: Annotated[str, StringConstraints(max_length=100), OneLine] | None = None
    linkedin_url: LinkedInUrl | None = None
    company_name: Annotated[str, StringConstraints(max_length=200), OneLine] | None = None
    title: Annotated[str, StringConstraints(max_length=200), OneLine] | None = None
    phone: Annotated[str, StringConstraints(max_length=40), OneLine] | None = None
    timezone: Annotated[Timezone, OneLine] | None = None
    lead_tier: LeadTier | None = None
    tags: Tags | None = None
    custom_fields: CustomFields | None = None


# The person's fields automation (a sequence's field update) may set: not the identity (email,
# lead id), which decides who the person is, nor the tags and custom fields as a whole.
AUTOMATED_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "title",
    "phone",
    "linkedin_url",
    "lead_tier",
    "timezone",
)
CUSTOM_FIELD_PREFIX = "custom."


class ContactIn(ContactFields):
    """One row of a bulk add: the person, and their role in this campaign."""

    contact_type: ContactTypeField | None = None


def _batch_size(rows: list[Any]) -> list[Any]:
    if not rows:
        raise PydanticCustomError("CONTACTS_BATCH_EMPTY", "Send at least one contact")
    if len(rows) > MAX_BATCH:
        raise PydanticCustomError(
            "CONTACTS_BATCH_TOO_LARGE",
            f"At most {MAX_BATCH:,} contacts per call; use the CSV import for more",
        )
    return rows


class BulkAddIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contacts": [
                        {
                            "email": "ada@example.com",
                            "first_name": "Ada",
                            "last_name": "Lovelace",
                            "company_name": "Analytical Engines",
                            "title": "Staff engineer",
                            "lead_tier": "warm",
                            "tags": ["python"],
                        },
                        {"email": "grace@example.com", "first_name": "Grace"},
                    ]
                }
            ]
        },
    )

    # Rows stay raw here and are validated one by one, so one bad row does not refuse the call.
    contacts: Annotated[
        list[Any],
        AfterValidator(_batch_size),
        WithJsonSchema(
            {
                "type": "array",
                "items": ContactIn.model_json_schema(),
                "minItems": 1,
                "maxItems": MAX_BATCH,
            }
        ),
    ]


class RowResult(BaseModel):
    index: int
    # updated: only into the organization's people, without a campaign (add_to_org)
    status: Literal["created", "updated", "skipped", "invalid"]
    campaign_contact_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    code: str | None = None
    message: str | None = None
    errors: list[FieldErrorOut] = []


class BulkSummary(BaseModel):
    created: int
    skipped: int
    invalid: int


class BulkAddOut(BaseModel):
    summary: BulkSummary
    results: list[RowResult]


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str | None
    lead_id: uuid.UUID | None
    first_name: str | None
    last_name: str | None
    linkedin_url: str | None
    company_name: str | None
    title: str | None
    phone: str | None
    timezone: str | None
    lead_tier: str | None
    tags: list[str]
    score: int
    custom_fields: dict[str, Any]


class CampaignContactOut(BaseModel):
    id: uuid.UUID
    campaign_id: uuid.UUID
    contact_type: str
    status: str
    ab_variant: str | None
    channel: str | None
    template_used_id: uuid.UUID | None
    sent_at: datetime | None
    email_sent_at: datetime | None
    linkedin_sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    responded_at: datetime | None
    response_text: str | None
    converted_at: datetime | None
    conversion_type: str | None
    conversion_entity_id: uuid.UUID | None
    bounced_at: datetime | None
    bounce_type: str | None
    unsubscribed_at: datetime | None
    complained_at: datetime | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    contact: ContactOut


class CampaignContactUpdate(ContactIn):
    """The person's fields, checked as when adding them (they change the organization's
    person, in every campaign), the contact's type in this campaign and its A/B variant.
    Status and engagement fields are not here: events change them."""

    ab_variant: AbVariant | None = None
    contact: ContactFields | None = Field(
        None,
        description="The person's fields, as they were given before they were accepted at the "
        "top level; a field may be given in one place only",
    )
