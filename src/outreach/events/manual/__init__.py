"""Manual events on a campaign's contact: the one part of events above campaigns and contacts."""
