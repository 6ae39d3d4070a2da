"""API keys for machine clients: minted once, stored as a hash, each acting as a profile of its
organization with its role."""
