"""Who is due for which step on which channel; POST /campaigns/{id}/send."""
