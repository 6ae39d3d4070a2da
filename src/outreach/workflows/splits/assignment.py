"""Which variant of a split node a contact takes: sticky, so that a rerun of the same node
(a retried execution, a second engine process) never moves a contact to another variant.

Pure: the variant follows from the campaign contact's id and the node's id alone, hashed onto
[0, 100) and read against the variants' cumulative percentages.
"""

import hashlib
import uuid
from collections.abc import Sequence

from outreach.workflows.graph.schemas import Variant

_SCALE = 2**64


def split_point(campaign_contact_id: uuid.UUID, node_id: str) -> float:
    """Where the contact falls on [0, 100) at this node; the same pair, the same point.
    SHA-256 rather than `hash()`: Python salts string hashes per process."""
    digest = hashlib.sha256(f"{campaign_contact_id}/{node_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE * 100


def assign_variant(
    campaign_contact_id: uuid.UUID,
    node_id: str,
    variants: Sequence[Variant],
    winner: str | None = None,
) -> str:
    """The id of the variant the contact takes at the split `node_id`: the declared `winner`
    when there is one (and it is still one of the variants), else the variant whose share of
    the percentages the contact's point falls in. A 0% variant is never chosen."""
    if not variants:
        raise ValueError("a split has at least two variants")
    if winner is not None and any(variant.id == winner for variant in variants):
        return winner
    # Read against the total, not 100: a canvas is validated to sum to 100, but float
    # percentages (33.33 x 3) need not add up exactly.
    total = sum(variant.percentage for variant in variants)
    if total <= 0:
        return variants[0].id
    point = split_point(campaign_contact_id, node_id) / 100 * total
    cumulative = 0.0
    for variant in variants:
        cumulative += variant.percentage
        if point < cumulative:
            return variant.id
    # Rounding can leave the point at the very end: the last variant that takes anyone.
    return next(variant.id for variant in reversed(variants) if variant.percentage > 0)
