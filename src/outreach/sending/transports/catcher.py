"""How mail meant for the embedded mail catcher names itself. The send path and the catcher
(`outreach.embedded`) both depend on this; the send path never imports the catcher."""

import uuid

from outreach.config import Settings

# What outreach sends to the catcher names the organization, and the catcher (its database) it
# is meant for: one catcher per database, so two checkouts on one machine never mix their mail.
ORG_HEADER = "X-Outreach-Org"
INSTANCE_HEADER = "X-Outreach-Catcher"


def catcher_headers(settings: Settings, org_id: uuid.UUID) -> list[tuple[str, str]]:
    """The headers a message sent to the embedded catcher carries (none for a real relay)."""
    if not settings.mail_catcher:
        return []
    return [(ORG_HEADER, str(org_id)), (INSTANCE_HEADER, settings.mail_catcher)]
