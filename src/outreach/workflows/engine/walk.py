"""One claimed walk in memory: where it is, what it waits for, and how it moves. The engine
changes walks here and writes a whole batch of them back in one statement."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping


@dataclass
class Walk:
    row: RowMapping  # the claimed state with its contact (enrollments' claim)
    node: str
    status: str
    path: list[str]
    variables: dict[str, Any]
    wait_until: datetime | None
    wait_for_event: str | None
    wait_started_at: datetime | None
    interrupt: str | None
    retry_count: int
    max_retries: int
    assigned_variant: str | None
    variants: dict[str, Any]
    variant_assigned_at: datetime | None
    last_error: str | None
    appended: list[str] = field(default_factory=list)
    paused_status: str | None = None
    interrupt_seen: bool = False
    next_execution_at: datetime | None = None
    completed_at: datetime | None = None
    exit_reason: str | None = None
    done: bool = False  # nothing more to do in this claim
    ended: str | None = None  # the walk ended early: its pending messages and tasks go, for this

    @classmethod
    def of(cls, row: RowMapping) -> "Walk":
        return cls(
            row=row,
            node=row["current_node_id"],
            status=row["workflow_status"],
            path=list(row["execution_path"]),
            variables=dict(row["workflow_variables"]),
            wait_until=row["wait_until"],
            wait_for_event=row["wait_for_event"],
            wait_started_at=row["wait_started_at"],
            interrupt=row["interrupt"],
            retry_count=row["retry_count"],
            max_retries=row["max_retries"],
            assigned_variant=row["assigned_variant"],
            variants=dict(row["variants"]),
            variant_assigned_at=row["variant_assigned_at"],
            last_error=row["last_error"],
        )

    @property
    def id(self) -> uuid.UUID:
        return self.row["id"]  # type: ignore[no-any-return]

    @property
    def campaign_id(self) -> uuid.UUID:
        return self.row["campaign_id"]  # type: ignore[no-any-return]

    @property
    def campaign_contact_id(self) -> uuid.UUID:
        return self.row["campaign_contact_id"]  # type: ignore[no-any-return]

    @property
    def entered(self) -> bool:
        """The current node has run before in this visit (a wait, a message sent, a retry)."""
        return bool(self.path) and self.path[-1] == self.node

    def enter(self) -> None:
        self.path.append(self.node)
        self.appended.append(self.node)

    @property
    def step(self) -> str:
        """The current visit's step name: the node id, `#n` from its second visit on."""
        visits = self.path.count(self.node)
        return self.node if visits <= 1 else f"{self.node}#{visits}"

    def move(self, target: str) -> None:
        self.node = target
        self.status = "running"
        self.wait_until = self.wait_for_event = self.wait_started_at = None
        self.retry_count = 0
        self.last_error = None

    def wait(
        self, until: datetime | None, event: str | None, now: datetime, recheck: datetime
    ) -> None:
        """Waiting (for `event` when given) until `until`, looked at again by `recheck` at the
        latest; the claim is over for this walk."""
        self.status = "waiting"
        self.wait_until, self.wait_for_event, self.wait_started_at = until, event, now
        self.next_execution_at = recheck
        self.done = True

    def hold(self, until: datetime) -> None:
        """Still waiting where it waits: looked at again at `until`."""
        self.next_execution_at = until
        self.done = True

    def finish(self, status: str, reason: str | None, now: datetime) -> None:
        self.status = status
        self.exit_reason = reason
        self.completed_at = now
        self.wait_until = self.wait_for_event = self.wait_started_at = None
        self.next_execution_at = None
        self.done = True

    def update(self) -> dict[str, Any]:
        """The walk's values for the enrollments' batch write."""
        return {
            "id": str(self.id),
            "current_node_id": self.node,
            "workflow_status": self.status,
            "paused_status": self.paused_status,
            "appended": self.appended,
            "workflow_variables": self.variables,
            "wait_until": self.wait_until,
            "wait_for_event": self.wait_for_event,
            "wait_started_at": self.wait_started_at,
            "interrupt_seen": self.interrupt_seen,
            "retry_count": self.retry_count,
            "assigned_variant": self.assigned_variant,
            "variants": self.variants,
            "variant_assigned_at": self.variant_assigned_at,
            "next_execution_at": self.next_execution_at,
            "completed_at": self.completed_at,
            "exit_reason": self.exit_reason,
            "last_error": self.last_error,
        }

    def inserted(self) -> dict[str, Any]:
        """The starting walk's values for the enrollments' batch insert."""
        return self.update() | {
            "campaign_id": str(self.campaign_id),
            "campaign_contact_id": str(self.campaign_contact_id),
            "version": self.row["version"],
            "max_retries": self.max_retries,
        }
