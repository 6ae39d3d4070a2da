"""Which channel reaches each contact: the campaign's allocation, gated by the lead's tier.

Tier gating (client spec: "SMS and mail only for hot leads, LinkedIn never for cold"):

    tier      email  linkedin  voice  sms  mail
    hot        yes     yes      yes   yes   yes
    warm       yes     yes      yes    -     -
    cold       yes      -       yes    -     -
    (none)     yes     yes      yes    -     -     an unscored lead is treated as warm

A channel also needs the contact's address for it: an email, a LinkedIn URL, a phone number
(voice and SMS). A letter needs nothing we hold: the owner's task carries it.

Contacts are assigned one at a time to the allowed channel furthest below its share, counting
everyone the campaign has started so far, so the split follows the percentages exactly (to
within one contact) at any size, and a gated contact moves to the next most under-served
channel instead of being dropped.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

CHANNELS = ("email", "linkedin", "voice", "sms", "mail")

TIER_CHANNELS: Mapping[str | None, frozenset[str]] = {
    "hot": frozenset(CHANNELS),
    "warm": frozenset({"email", "linkedin", "voice"}),
    "cold": frozenset({"email", "voice"}),
    None: frozenset({"email", "linkedin", "voice"}),
}


@dataclass(frozen=True)
class Reachability:
    lead_tier: str | None
    email: str | None
    linkedin_url: str | None
    phone: str | None

    def channels(self) -> frozenset[str]:
        has = {
            "email": bool(self.email),
            "linkedin": bool(self.linkedin_url),
            "voice": bool(self.phone),
            "sms": bool(self.phone),
            "mail": True,
        }
        return frozenset(c for c in TIER_CHANNELS[self.lead_tier] if has[c])


class ChannelAssigner:
    """Assigns channels by allocation, continuing from the contacts already started."""

    def __init__(self, allocation: Mapping[str, int], started: Mapping[str, int]) -> None:
        self.allocation = {c: allocation.get(c, 0) for c in CHANNELS}
        self.counts = Counter({c: started.get(c, 0) for c in CHANNELS})
        self.total = sum(self.counts.values())

    def assign(self, contact: Reachability) -> str | None:
        """The channel for `contact`, or None when no allocated channel can reach it."""
        allowed = [c for c in CHANNELS if self.allocation[c] > 0 and c in contact.channels()]
        if not allowed:
            return None
        # deficit of a channel = the share it should have after this contact minus what it has
        after = self.total + 1
        channel = max(
            allowed,
            key=lambda c: (self.allocation[c] * after - 100 * self.counts[c], self.allocation[c]),
        )
        self.counts[channel] += 1
        self.total = after
        return channel

    def unassign(self, channel: str) -> None:
        """Takes back an assignment the caller could not carry out (planned later)."""
        self.counts[channel] -= 1
        self.total -= 1
