"""A campaign's draft graph and its published, immutable versions."""
