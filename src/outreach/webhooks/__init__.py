"""Outbound webhooks: the organization's subscriptions, signed the Standard Webhooks way and
delivered from a durable queue in PostgreSQL."""
