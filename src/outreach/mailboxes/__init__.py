"""A sender's own IMAP mailbox: its settings, its sync, and what the messages in it say."""
