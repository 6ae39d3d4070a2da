"""The unsubscribe link can be undone: a `resubscribed` event records it, and a suppression
names the event that put the address on the list, so an undo lifts only the suppression its
own unsubscribe made (never one a complaint, a bounce or a person added).

Revision ID: 0017_resubscribe
Revises: 0016_search_words_by_age
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_resubscribe"
down_revision: str | None = "0016_search_words_by_age"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every event type allowed before this revision (0009_workflows set the last list).
EVENT_TYPES_BEFORE = (
    "email_sent",
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "unsubscribed",
    "spam_reported",
    "response_received",
    "converted",
    "linkedin_sent",
    "linkedin_viewed",
    "auto_replied",
    "sms_sent",
    "call_completed",
    "letter_sent",
    "enrollment_started",
    "enrollment_completed",
    "enrollment_exited",
    "enrollment_failed",
    "enrollment_paused",
    "enrollment_resumed",
    "wait_started",
    "wait_completed",
    "condition_evaluated",
    "variant_assigned",
    "tag_added",
    "tag_removed",
    "score_updated",
    "field_updated",
    "webhook_triggered",
    "webhook_succeeded",
    "webhook_failed",
    "step_skipped",
    "message_queued",
    "ab_test_completed",
)


def _event_type_check(types: Sequence[str]) -> None:
    op.execute("ALTER TABLE engagement_events DROP CONSTRAINT ck_engagement_events_event_type")
    listed = ", ".join(f"'{t}'" for t in types)
    op.execute(
        "ALTER TABLE engagement_events ADD CONSTRAINT ck_engagement_events_event_type "
        f"CHECK (event_type IN ({listed}))"
    )


def upgrade() -> None:
    _event_type_check((*EVENT_TYPES_BEFORE, "resubscribed"))
    # No foreign key: the event goes with its campaign contact (the retention policy deletes
    # those), while the address stays off the list.
    op.execute("ALTER TABLE suppressions ADD COLUMN event_id uuid")


def downgrade() -> None:
    op.execute("ALTER TABLE suppressions DROP COLUMN event_id")
    op.execute("DELETE FROM engagement_events WHERE event_type = 'resubscribed'")
    _event_type_check(EVENT_TYPES_BEFORE)
