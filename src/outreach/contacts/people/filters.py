"""The one filter over the organization's people: the query parameters of `GET /contacts` and
the `filters` a segment saves, checked by the same model and turned into the same SQL."""

import re
import uuid
from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import (
    ColumnElement,
    DateTime,
    FromClause,
    SQLColumnExpression,
    Text,
    Uuid,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    select,
    table,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from outreach.contacts.schemas import MAX_SCORE, MIN_SCORE, LeadTier
from outreach.kit.text import OneLine
from outreach.models import CampaignContact, Contact, EngagementEvent
from outreach.models.campaign_contact import ContactStatus

MAX_SEARCH_WORDS = 8
# A person's words (migration 0015, kept by triggers on `contacts`): the lower-cased runs of
# letters and digits of their name, company and email, cut to this length.
MAX_WORD_LENGTH = 64
_WORD = re.compile(r"[^\W_]+")
SEARCH_WORDS = table(
    "contact_search_words",
    column("org_id", Uuid),
    column("word", Text(collation="C")),
    column("contact_id", Uuid),
    column("created_at", DateTime(timezone=True)),
)

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


def search_query(text: str) -> list[str]:
    """The words of `text` (runs of letters and digits: `o'brien` is `o` and `brien`, as a
    person's words are split), the first MAX_SEARCH_WORDS; none when it holds no letter or
    digit. They are lower-cased and cut in SQL, by the functions that make a person's words."""
    return _WORD.findall(text)[:MAX_SEARCH_WORDS]


def word_range(words: FromClause, text: str) -> list[ColumnElement[bool]]:
    """The entries of `words` (the words table or an alias) starting with `text`: a range of the
    primary key, from the prefix to its successor (the prefix with its last character
    incremented: exact in code point order, for a last character that is a letter or digit).
    Compared in the "C" collation, so that the comparisons are the leakproof ones row-level
    security lets an index serve. The bounds hold no column: PostgreSQL computes them once,
    when planning."""
    prefix = func.left(func.lower(literal(text, Text)), MAX_WORD_LENGTH)
    successor = func.left(prefix, -1).concat(func.chr(func.ascii(func.right(prefix, 1)) + 1))
    return [words.c.word >= prefix.collate("C"), words.c.word < successor.collate("C")]


def has_word_starting(
    text: str,
    org_id: SQLColumnExpression[uuid.UUID],
    person_id: SQLColumnExpression[uuid.UUID],
) -> ColumnElement[bool]:
    """The person (`org_id`, `person_id`) has a word starting with `text`. The words are the
    person's organization's, so that the organization a query names (as the policy does)
    binds the first column of the key."""
    return tuple_(org_id, person_id).in_(
        select(SEARCH_WORDS.c.org_id, SEARCH_WORDS.c.contact_id).where(
            *word_range(SEARCH_WORDS, text)
        )
    )


def row_has_word_starting(text: str) -> ColumnElement[bool]:
    """The person's row has a word starting with `text`, read from the row itself: where it
    starts or after a character that is not a letter or digit (the split of the person's words).
    For a walk over the people, where reading each row's fields costs less than a probe of the
    words' index. `text` holds letters and digits only (search_query), none of them special in
    a regular expression."""
    fields = func.lower(
        func.concat_ws(
            " ", Contact.first_name, Contact.last_name, Contact.company_name, Contact.email
        )
    )
    prefix = func.left(func.lower(literal(text, Text)), MAX_WORD_LENGTH)
    return fields.regexp_match(literal("(^|[^[:alnum:]])", Text).concat(prefix))


def _memberships(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(CampaignContact.id).where(CampaignContact.contact_id == Contact.id, *conditions)
    )


def searched_words(filters: ContactFilters) -> list[str]:
    return search_query(filters.q) if filters.q else []


def conditions(filters: ContactFilters, *, searched: bool = True) -> list[ColumnElement[bool]]:
    """The WHERE conditions on `contacts` for these filters (never an erased person's row);
    without `searched`, those of every filter but `q`."""
    where: list[ColumnElement[bool]] = [Contact.erased_at.is_(None)]
    if searched:
        words = searched_words(filters)
        if filters.q is not None and filters.q.strip() and not words:
            where.append(false())
        where.extend(has_word_starting(word, Contact.org_id, Contact.id) for word in words)
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
