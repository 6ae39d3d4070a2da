"""Mailboxes: each sender's own IMAP mailbox, read for replies, auto-replies, bounces and
unsubscribe requests, and the inbox of the replies found there.

`sender_mailboxes` holds a sender's IMAP settings (the secret encrypted like the SMTP password)
and its sync state: the UIDVALIDITY and the last UID read, advanced in the transaction that
records what those messages said, so a crash repeats nothing and misses nothing. Mailboxes are
claimed by any worker with a lease (`leased_until`, taken with SKIP LOCKED);
`tenant_directory.mailbox_due_at` tells workers which organizations have mailboxes due.

`inbox_messages` keeps the replies (a person's answer, never an auto-reply or a bounce) and the
answers sent from the inbox, one thread per campaign contact.

Revision ID: 0011_mailboxes
Revises: 0010_workflow_triggers
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import context, op
from psycopg import sql

revision: str = "0011_mailboxes"
down_revision: str | None = "0010_workflow_triggers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_ORG = "(SELECT nullif(current_setting('app.org_id', true), '')::uuid)"
TABLES = ("sender_mailboxes", "inbox_messages")

UPGRADE = """
CREATE TABLE sender_mailboxes (
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  sender_id uuid NOT NULL,
  imap_host text NOT NULL CHECK (length(imap_host) BETWEEN 1 AND 253),
  imap_port integer NOT NULL CHECK (imap_port BETWEEN 1 AND 65535),
  imap_tls text NOT NULL CHECK (imap_tls IN ('none', 'starttls', 'tls')),
  imap_username text NOT NULL CHECK (length(imap_username) BETWEEN 1 AND 320),
  -- password: LOGIN; oauth2: an access token through SASL XOAUTH2
  auth text NOT NULL CHECK (auth IN ('password', 'oauth2')),
  secret_encrypted text NOT NULL,  -- Fernet ciphertext (sending/secrets); never leaves the service
  uid_validity bigint,
  last_uid bigint NOT NULL DEFAULT 0 CHECK (last_uid >= 0),
  last_sync_at timestamptz,
  last_error text,
  next_sync_at timestamptz NOT NULL DEFAULT now(),
  leased_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, sender_id),
  CONSTRAINT fk_sender_mailboxes_sender FOREIGN KEY (org_id, sender_id)
    REFERENCES senders (org_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_sender_mailboxes_due ON sender_mailboxes (org_id, next_sync_at);

CREATE TABLE inbox_messages (
  id uuid NOT NULL DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
  sender_id uuid NOT NULL,
  campaign_id uuid NOT NULL,
  campaign_contact_id uuid NOT NULL,
  -- inbound: a contact's reply read from the mailbox; outbound: an answer sent from the inbox
  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  message_id text NOT NULL CHECK (length(message_id) BETWEEN 1 AND 998),
  in_reply_to text,       -- the Message-ID it answers
  references_ids text[] NOT NULL DEFAULT '{}',
  step text,              -- inbound: the campaign step whose message it answers, when known
  -- inbound: how it was tied to its contact (`thread`: In-Reply-To / References; `address`:
  -- the From address within the sender's campaigns)
  matched_by text CHECK (matched_by IN ('thread', 'address')),
  from_email text NOT NULL,
  to_email text NOT NULL,
  subject text NOT NULL DEFAULT '',
  body_text text NOT NULL,   -- inbound: the reply without its quoted history and signature
  received_at timestamptz NOT NULL,
  read_at timestamptz,
  answered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT uq_inbox_messages_message UNIQUE (org_id, sender_id, message_id),
  CONSTRAINT ck_inbox_messages_matched CHECK ((direction = 'inbound') = (matched_by IS NOT NULL)),
  CONSTRAINT fk_inbox_messages_sender FOREIGN KEY (org_id, sender_id)
    REFERENCES senders (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_inbox_messages_campaign FOREIGN KEY (org_id, campaign_id)
    REFERENCES campaigns (org_id, id) ON DELETE CASCADE,
  CONSTRAINT fk_inbox_messages_campaign_contact FOREIGN KEY (org_id, campaign_contact_id)
    REFERENCES campaign_contacts (org_id, id) ON DELETE CASCADE
);
-- the inbox: replies newest first (keyset pages), and a contact's thread
CREATE INDEX idx_inbox_messages_newest ON inbox_messages (org_id, received_at DESC, id DESC)
  WHERE direction = 'inbound';
CREATE INDEX idx_inbox_messages_thread
  ON inbox_messages (org_id, campaign_contact_id, received_at);

-- replies name the Message-ID of the message they answer: ours are looked up by it
CREATE INDEX idx_outbox_messages_message_id ON outbox_messages (org_id, message_id)
  WHERE message_id IS NOT NULL;

ALTER TABLE tenant_directory ADD COLUMN mailbox_due_at timestamptz;
CREATE INDEX idx_tenant_directory_mailbox_due ON tenant_directory (mailbox_due_at)
  WHERE mailbox_due_at IS NOT NULL;

-- Workers look for organizations with due mailboxes here instead of in every tenant's rows.
CREATE FUNCTION note_mailbox_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE tenant_directory d SET mailbox_due_at = least(d.mailbox_due_at, n.due_at)
    FROM (SELECT org_id, min(greatest(next_sync_at, coalesce(leased_until, next_sync_at)))
                 AS due_at
          FROM new_rows GROUP BY org_id) AS n
    WHERE d.id = n.org_id AND (d.mailbox_due_at IS NULL OR d.mailbox_due_at > n.due_at);
  RETURN NULL;
END $$;
CREATE TRIGGER sender_mailboxes_due_inserted AFTER INSERT ON sender_mailboxes
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_mailbox_due();
CREATE TRIGGER sender_mailboxes_due_updated AFTER UPDATE ON sender_mailboxes
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_mailbox_due();
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING (org_id = {CURRENT_ORG}) WITH CHECK (org_id = {CURRENT_ORG})"
        )
    op.execute(
        "CREATE TRIGGER sender_mailboxes_updated_at BEFORE UPDATE ON sender_mailboxes "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    connection = op.get_bind().connection.driver_connection
    assert connection is not None
    role = sql.Identifier(context.config.attributes["app_role"])
    for table in TABLES:
        connection.execute(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                sql.Identifier(table), role
            )
        )


def downgrade() -> None:
    op.execute("DROP TABLE inbox_messages")
    op.execute("DROP TABLE sender_mailboxes")
    op.execute("DROP FUNCTION note_mailbox_due()")
    op.execute("DROP INDEX idx_outbox_messages_message_id")
    op.execute("ALTER TABLE tenant_directory DROP COLUMN mailbox_due_at")
