"""Mailboxes: their settings, limits and warm-up, the breaker's thresholds; /senders."""
