"""Metrics and logs an operator can use: /metrics, the request metrics, the log format."""
