"""A sender's own IMAP mailbox: its settings, the connection test, the sync of what contacts
answer (replies, out-of-office notes, bounces), its job."""
