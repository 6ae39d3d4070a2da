"""The queue, the one writer of outbox_messages; GET /outbox."""
