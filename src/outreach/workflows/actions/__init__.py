"""A sequence's action nodes: tag, score and field changes of the contact (made by `contacts`,
the writer of that table) and the webhook call (signed, through the outbound guard, bounded)."""
