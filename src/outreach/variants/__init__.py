"""A/B variant assignment: campaigns (on start) and contacts (on add) both assign."""
