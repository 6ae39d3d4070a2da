"""The outbox as the API shows it: every message queued, sent or failed, per campaign."""
