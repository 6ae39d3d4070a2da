"""The one filter over the organization's people: the query parameters of `GET /contacts` and
the `filters` a segment saves, checked by the same model and turned into the same SQL."""

import re
import uuid
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, Text, cast, exists, false, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY, TSVECTOR

from outreach.contacts.schemas import MAX_SCORE, MIN_SCORE, LeadTier
from outreach.kit.text import OneLine
from outreach.models import CampaignContact, Contact, EngagementEvent
from outreach.models.campaign_contact import ContactStatus

MAX_SEARCH_WORDS = 8
# The expression of idx_contacts_search (migration 0012, CONTACT_SEARCH), qualified by the
# table: PostgreSQL uses the index only for this very expression, written with literals.
SEARCH_DOCUMENT: ColumnElement[Any] = literal_column(
    "to_tsvector('simple'::regconfig, coalesce(contacts.first_name, '') || ' ' || "
    "coalesce(contacts.last_name, '') || ' ' || coalesce(contacts.email, '') || ' ' || "
    "coalesce(contacts.company_name, ''))",
    TSVECTOR,
)
_PIECES = re.compile(r"\w+")

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), OneLine]


class ContactFilters(BaseModel):
    """Every filter is optional; those given must all hold. `status` with `campaign_id` is the
    person's status in that campaign, without it their status in any campaign."""

    q: Annotated[str, StringConstraints(max_length=200), OneLine] | None = Field(
        None,
        description="Words the name, email or company start with (all of them, any order; "
        f"the first {MAX_SEARCH_WORDS} words count)",
    )
    tag: list[Tag] = Field(
        default_factory=list, max_length=10, description="Tags the person has (all of them)"
    )
    lead_tier: LeadTier | None = None
    score_min: int | None = Field(None, ge=MIN_SCORE, le=MAX_SCORE)
    score_max: int | None = Field(None, ge=MIN_SCORE, le=MAX_SCORE)
    campaign_id: uuid.UUID | None = Field(None, description="In this campaign")
    status: ContactStatus | None = Field(
        None, description="Their status in `campaign_id`, else in any of their campaigns"
    )
    active_since: AwareDatetime | None = Field(
        None, description="With an event (in any campaign) at or after this moment"
    )

    @model_validator(mode="after")
    def _score_range(self) -> Self:
        if (
            self.score_min is not None
            and self.score_max is not None
            and self.score_min > self.score_max
        ):
            raise PydanticCustomError(
                "CONTACT_FILTER_SCORE_RANGE", "score_min must not be above score_max"
            )
        return self


class SegmentFilters(ContactFilters):
    """The same filters, saved in a segment: an unknown one is refused."""

    model_config = ConfigDict(extra="forbid")


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "':*"


def search_query(text: str) -> str | None:
    """A tsquery (input syntax, not parsed again) for the words of `text`: each word matches a
    word of the document it starts, ANDed. A word is taken whole (`ada.lovelace@exa` starts the
    email's one word) or, when it holds punctuation, as its pieces (`o'brien`: `o` and `brien`,
    as the document's parser splits the name). None when `text` holds no word."""
    terms = []
    for word in text.lower().split()[:MAX_SEARCH_WORDS]:
        pieces = _PIECES.findall(word)
        if not pieces:
            continue
        whole = _quoted(word)
        if pieces == [word]:
            terms.append(whole)
        else:
            terms.append(f"({whole} | ({' & '.join(_quoted(piece) for piece in pieces)}))")
    return " & ".join(terms) or None


def _memberships(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(CampaignContact.id).where(CampaignContact.contact_id == Contact.id, *conditions)
    )


def conditions(filters: ContactFilters) -> list[ColumnElement[bool]]:
    """The WHERE conditions on `contacts` for these filters (never an erased person's row)."""
    where: list[ColumnElement[bool]] = [Contact.erased_at.is_(None)]
    query = search_query(filters.q) if filters.q else None
    if filters.q is not None and filters.q.strip() and query is None:
        where.append(false())
    if query is not None:
        where.append(SEARCH_DOCUMENT.op("@@")(cast(query, TSQUERY)))
    if filters.tag:
        where.append(Contact.tags.op("@>")(cast(filters.tag, ARRAY(Text))))
    if filters.lead_tier is not None:
        where.append(Contact.lead_tier == filters.lead_tier)
    if filters.score_min is not None:
        where.append(Contact.score >= filters.score_min)
    if filters.score_max is not None:
        where.append(Contact.score <= filters.score_max)
    membership: list[ColumnElement[bool]] = []
    if filters.campaign_id is not None:
        membership.append(CampaignContact.campaign_id == filters.campaign_id)
    if filters.status is not None:
        membership.append(CampaignContact.status == filters.status)
    if membership:
        where.append(_memberships(*membership))
    if filters.active_since is not None:
        recent = exists(
            select(EngagementEvent.id).where(
                EngagementEvent.org_id == CampaignContact.org_id,
                EngagementEvent.campaign_contact_id == CampaignContact.id,
                EngagementEvent.event_timestamp >= filters.active_since,
            )
        )
        where.append(_memberships(recent))
    return where
