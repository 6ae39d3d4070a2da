"""What recording an event comes to, and how a call went (kept in its data)."""

from enum import StrEnum
from typing import Literal


class Outcome(StrEnum):
    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # a provider's retry of an event already recorded
    UNKNOWN_CONTACT = "unknown_contact"  # no such campaign contact in the organization


# How a call went; kept in the event's data. Any completed call counts as a touch (the contact
# was reached, as an unopened email was), so the outcome does not change the contact's state.
CallOutcome = Literal["connected", "voicemail", "no_answer"]
