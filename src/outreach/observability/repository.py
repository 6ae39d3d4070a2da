"""The database facts of /metrics: read-only queries, each cheap by an index.

The app role sees one organization's rows at a time (row-level security), so the counts are
read organization by organization in one transaction (kit/tenancy.each_org_in_turn); the lags
come from `tenant_directory`, the one table every organization's due times are in.
"""

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from outreach.kit.tenancy import each_org_in_turn

OUTBOX_STATUSES = ("awaiting_approval", "queued", "sending", "accepted")

# -- name: due-lags (across organizations: tenant_directory has no row-level security)
_LAGS = text("""
SELECT count(*) AS organizations,
  coalesce(extract(epoch FROM now() - min(outbox_due_at) FILTER (WHERE outbox_due_at <= now())),
           0) AS outbox_lag,
  count(*) FILTER (WHERE outbox_due_at <= now()) AS outbox_due_orgs,
  coalesce(extract(epoch FROM now() - min(workflow_due_at)
                   FILTER (WHERE workflow_due_at <= now())), 0) AS workflow_lag,
  count(*) FILTER (WHERE workflow_due_at <= now()) AS workflow_due_orgs
FROM tenant_directory
""")
# The organizations to count, those with the oldest due work first (then the others, so that
# an organization with messages awaiting approval and nothing due is counted too).
_ORGS = text("""
SELECT id FROM tenant_directory
ORDER BY least(outbox_due_at, workflow_due_at) NULLS LAST, id
LIMIT :limit
""")
# -- name: org-depths (one organization, under row-level security): each count walks a
# partial index (queued, leased, due walks) or the campaign index (awaiting approval).
_DEPTHS = text("""
SELECT
  (SELECT count(*) FROM outbox_messages WHERE status = 'awaiting_approval') AS awaiting_approval,
  q.queued, q.due,
  (SELECT count(*) FROM outbox_messages WHERE status = 'sending') AS sending,
  (SELECT count(*) FROM outbox_messages WHERE status = 'accepted') AS accepted,
  (SELECT count(*) FROM campaign_workflow_states
   WHERE workflow_status IN ('running', 'waiting') AND next_execution_at <= now()) AS due_walks
FROM (SELECT count(*) AS queued, count(*) FILTER (WHERE due_at <= now()) AS due
      FROM outbox_messages WHERE status = 'queued') q
""")


@dataclass
class Facts:
    organizations: int = 0
    counted: int = 0
    outbox: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTBOX_STATUSES, 0))
    outbox_due: int = 0
    outbox_due_orgs: int = 0
    outbox_lag: float = 0.0
    workflow_due: int = 0
    workflow_due_orgs: int = 0
    workflow_lag: float = 0.0


async def read_facts(session: AsyncSession, max_orgs: int) -> Facts:
    """Read-only, in the session's transaction (a session of no organization)."""
    lags = (await session.execute(_LAGS)).mappings().one()
    facts = Facts(
        organizations=int(lags["organizations"]),
        outbox_lag=float(lags["outbox_lag"]),
        outbox_due_orgs=int(lags["outbox_due_orgs"]),
        workflow_lag=float(lags["workflow_lag"]),
        workflow_due_orgs=int(lags["workflow_due_orgs"]),
    )
    org_ids: list[uuid.UUID] = list((await session.scalars(_ORGS, {"limit": max_orgs})).all())
    async for _ in each_org_in_turn(session, org_ids):
        row = (await session.execute(_DEPTHS)).mappings().one()
        for status in OUTBOX_STATUSES:
            facts.outbox[status] += int(row[status])
        facts.outbox_due += int(row["due"])
        facts.workflow_due += int(row["due_walks"])
        facts.counted += 1
    return facts
