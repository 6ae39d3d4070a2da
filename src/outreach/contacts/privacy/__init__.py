"""Data-subject requests: a person's export and erasure, and the audit log that records both."""
